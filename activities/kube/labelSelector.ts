/**
 * A label selector in the API server's string form (`a=b,c!=d,e,!f`), matched against an object's labels: what the
 * worker's read cache needs to answer `list(..., labelSelector)` from memory exactly as the API server would. Set-based
 * terms (`in`, `notin`) are not used by the worker; a selector with one is reported as unsupported (read directly).
 */
export type LabelTerm =
  | { op: 'eq'; key: string; value: string }
  | { op: 'ne'; key: string; value: string }
  | { op: 'exists'; key: string }
  | { op: 'absent'; key: string };

/** The selector's terms, or undefined when it uses a form this matcher does not know. */
export function parseLabelSelector(selector: string | undefined): LabelTerm[] | undefined {
  const terms: LabelTerm[] = [];
  for (const raw of (selector ?? '').split(',')) {
    const part = raw.trim();
    if (!part) continue;
    if (/\s(in|notin)\s/.test(part) || part.includes('(')) return undefined;
    const ne = part.indexOf('!=');
    const eq = part.indexOf('=');
    if (ne > 0) terms.push({ op: 'ne', key: part.slice(0, ne).trim(), value: part.slice(ne + 2).trim() });
    else if (eq > 0)
      terms.push({
        op: 'eq',
        key: part.slice(0, eq).trim(),
        value: part.slice(part[eq + 1] === '=' ? eq + 2 : eq + 1).trim(),
      });
    else if (part.startsWith('!')) terms.push({ op: 'absent', key: part.slice(1).trim() });
    else terms.push({ op: 'exists', key: part });
  }
  return terms;
}

export function matchesLabels(terms: LabelTerm[], labels: Record<string, string> | undefined): boolean {
  const l = labels ?? {};
  return terms.every((t) => {
    const has = Object.hasOwn(l, t.key);
    switch (t.op) {
      case 'eq':
        return has && l[t.key] === t.value;
      case 'ne':
        return !has || l[t.key] !== t.value;
      case 'exists':
        return has;
      case 'absent':
        return !has;
    }
  });
}
