/**
 * kubectl's `-o jsonpath=TEMPLATE`, the part people use: text with `{PATH}` expressions, where PATH is `.a.b`,
 * `['key']`, `[0]`, `[-1]`, `[*]` / `.*`, a filter `[?(@.type=="Ready")]` (== or !=), string literals `{"\n"}`,
 * and `{range PATH}...{end}`. Several results of one expression are joined by spaces; objects print as JSON.
 */
export class JsonPathError extends Error {}

type Step =
  | { op: 'field'; name: string }
  | { op: 'index'; index: number }
  | { op: 'all' }
  | { op: 'filter'; path: Step[]; cmp: '==' | '!='; value: unknown };

type Node =
  | { type: 'text'; text: string }
  | { type: 'literal'; text: string }
  | { type: 'path'; steps: Step[] }
  | { type: 'range'; steps: Step[]; body: Node[] };

const IDENT = /^[A-Za-z_$][\w$-]*/;

function parseLiteral(text: string): unknown {
  const t = text.trim();
  if (/^".*"$|^'.*'$/s.test(t)) return unescape(t.slice(1, -1));
  if (/^-?\d+(\.\d+)?$/.test(t)) return Number(t);
  if (t === 'true' || t === 'false') return t === 'true';
  throw new JsonPathError(`cannot read the value ${t}`);
}

const unescape = (s: string) =>
  s.replace(/\\(.)/g, (_, c: string) => (c === 'n' ? '\n' : c === 't' ? '\t' : c === 'r' ? '\r' : c));

/** `.status.conditions[?(@.type=="Ready")].status` → steps. */
export function parsePath(text: string): Step[] {
  let rest = text.trim().replace(/^\$/, '');
  if (rest === '' || rest === '.') return [];
  if (!rest.startsWith('.') && !rest.startsWith('[')) rest = `.${rest}`;
  const steps: Step[] = [];
  while (rest.length > 0) {
    if (rest.startsWith('..')) throw new JsonPathError('recursive descent (..) is not supported');
    if (rest.startsWith('.*')) {
      steps.push({ op: 'all' });
      rest = rest.slice(2);
    } else if (rest.startsWith('.')) {
      const m = IDENT.exec(rest.slice(1));
      if (!m) throw new JsonPathError(`expected a field name at "${rest}"`);
      steps.push({ op: 'field', name: m[0] });
      rest = rest.slice(1 + m[0].length);
    } else if (rest.startsWith('[')) {
      const close = closingBracket(rest);
      const inner = rest.slice(1, close).trim();
      rest = rest.slice(close + 1);
      if (inner === '*') steps.push({ op: 'all' });
      else if (/^-?\d+$/.test(inner)) steps.push({ op: 'index', index: Number(inner) });
      else if (/^(['"]).*\1$/s.test(inner)) steps.push({ op: 'field', name: unescape(inner.slice(1, -1)) });
      else if (inner.startsWith('?(') && inner.endsWith(')')) {
        const m = /^@(\S*?)\s*(==|!=)\s*(.+)$/s.exec(inner.slice(2, -1).trim());
        if (!m) throw new JsonPathError(`cannot read the filter [${inner}]`);
        steps.push({ op: 'filter', path: parsePath(m[1] ?? ''), cmp: m[2] as '==' | '!=', value: parseLiteral(m[3]!) });
      } else throw new JsonPathError(`cannot read [${inner}]`);
    } else throw new JsonPathError(`unexpected "${rest}"`);
  }
  return steps;
}

function closingBracket(text: string): number {
  let quote: string | undefined;
  let depth = 0;
  for (let i = 0; i < text.length; i++) {
    const c = text[i]!;
    if (quote) {
      if (c === '\\') i++;
      else if (c === quote) quote = undefined;
    } else if (c === '"' || c === "'") quote = c;
    else if (c === '[' || c === '(') depth++;
    else if ((c === ']' || c === ')') && --depth === 0 && c === ']') return i;
  }
  throw new JsonPathError(`unclosed [ in "${text}"`);
}

function evaluate(steps: Step[], roots: unknown[]): unknown[] {
  let cur = roots;
  for (const step of steps) {
    const next: unknown[] = [];
    for (const v of cur) {
      if (step.op === 'field') {
        if (v !== null && typeof v === 'object' && !Array.isArray(v) && step.name in v)
          next.push((v as Record<string, unknown>)[step.name]);
      } else if (step.op === 'index') {
        if (Array.isArray(v)) {
          const item: unknown = v.at(step.index);
          if (item !== undefined) next.push(item);
        }
      } else if (step.op === 'all') {
        if (Array.isArray(v)) next.push(...(v as unknown[]));
        else if (v !== null && typeof v === 'object') next.push(...Object.values(v));
      } else if (Array.isArray(v)) {
        for (const item of v as unknown[]) {
          const got = evaluate(step.path, [item]);
          const equal = got.length > 0 && got[0] === step.value;
          if (step.cmp === '==' ? equal : got.length > 0 && !equal) next.push(item);
        }
      }
    }
    cur = next;
  }
  return cur;
}

function parseTemplate(template: string): Node[] {
  const root: Node[] = [];
  const stack: Node[][] = [root];
  let i = 0;
  while (i < template.length) {
    const open = template.indexOf('{', i);
    const top = stack.at(-1)!;
    if (open < 0) {
      top.push({ type: 'text', text: template.slice(i) });
      break;
    }
    if (open > i) top.push({ type: 'text', text: template.slice(i, open) });
    let close = open + 1;
    let quote: string | undefined;
    for (; close < template.length; close++) {
      const c = template[close]!;
      if (quote) {
        if (c === '\\') close++;
        else if (c === quote) quote = undefined;
      } else if (c === '"' || c === "'") quote = c;
      else if (c === '}') break;
    }
    if (close >= template.length) throw new JsonPathError(`unclosed { in "${template}"`);
    const expr = template.slice(open + 1, close).trim();
    i = close + 1;
    if (expr === 'end') {
      if (stack.length === 1) throw new JsonPathError('{end} without {range}');
      stack.pop();
    } else if (expr.startsWith('range ')) {
      const node: Node = { type: 'range', steps: parsePath(expr.slice(6)), body: [] };
      top.push(node);
      stack.push(node.body);
    } else if (/^(['"]).*\1$/s.test(expr)) top.push({ type: 'literal', text: unescape(expr.slice(1, -1)) });
    else top.push({ type: 'path', steps: parsePath(expr) });
  }
  if (stack.length > 1) throw new JsonPathError('{range} without {end}');
  return root;
}

const show = (v: unknown) =>
  typeof v === 'string' ? v : v !== null && typeof v === 'object' ? JSON.stringify(v) : String(v);

function render(nodes: Node[], data: unknown): string {
  let out = '';
  for (const n of nodes) {
    if (n.type === 'text' || n.type === 'literal') out += n.text;
    else if (n.type === 'path') out += evaluate(n.steps, [data]).map(show).join(' ');
    else for (const item of evaluate(n.steps, [data])) out += render(n.body, item);
  }
  return out;
}

/** Checks a template once (a usage error before anything is read from the cluster). */
export function compileJsonPath(template: string): (data: unknown) => string {
  const nodes = parseTemplate(template);
  return (data) => render(nodes, data);
}
