/**
 * Kubernetes resource quantities ("1Gi", "500m", "1e3", 1073741824), parsed exactly.
 * The API server stores quantities verbatim, so `1Gi` and `1073741824` must be compared and hashed by value:
 * this module turns either form into an exact rational and back into one canonical string.
 */

/** The API server's own quantity pattern (k8s.io/apimachinery resource.Quantity). */
export const QUANTITY_PATTERN =
  '^(\\+|-)?(([0-9]+(\\.[0-9]*)?)|(\\.[0-9]+))(([KMGTPE]i)|[numkMGTPE]|([eE](\\+|-)?(([0-9]+(\\.[0-9]*)?)|(\\.[0-9]+))))?$';
const QUANTITY_RE = new RegExp(QUANTITY_PATTERN);

const BINARY: Record<string, bigint> = {
  Ki: 1n << 10n,
  Mi: 1n << 20n,
  Gi: 1n << 30n,
  Ti: 1n << 40n,
  Pi: 1n << 50n,
  Ei: 1n << 60n,
};
const DECIMAL_EXP: Record<string, number> = { n: -9, u: -6, m: -3, '': 0, k: 3, M: 6, G: 9, T: 12, P: 15, E: 18 };

/** An exact value: numerator / denominator, denominator > 0 and a product of 2s and 5s. */
export interface Rational {
  readonly num: bigint;
  readonly den: bigint;
}

export type QuantityInput = string | number;

export function isQuantity(value: unknown): value is QuantityInput {
  if (typeof value === 'number') return Number.isFinite(value);
  return typeof value === 'string' && QUANTITY_RE.test(value);
}

/** Parses a quantity exactly; throws on anything the API server would refuse. */
export function parseQuantity(input: QuantityInput): Rational {
  const text = typeof input === 'number' ? numberToText(input) : input;
  const m = /^([+-]?)(\d*)(?:\.(\d*))?(.*)$/.exec(text);
  if (!m || !QUANTITY_RE.test(text)) throw new Error(`invalid quantity ${JSON.stringify(input)}`);
  const [, sign = '', intPart = '', fracPart = '', suffix = ''] = m;
  let num = BigInt((intPart || '0') + fracPart) * (sign === '-' ? -1n : 1n);
  let den = 10n ** BigInt(fracPart.length);
  if (suffix in BINARY) {
    num *= BINARY[suffix]!;
  } else {
    const exp = suffix in DECIMAL_EXP ? DECIMAL_EXP[suffix]! : Number(suffix.slice(1));
    if (!Number.isInteger(exp) || Math.abs(exp) > 100) throw new Error(`invalid quantity ${JSON.stringify(input)}`);
    if (exp >= 0) num *= 10n ** BigInt(exp);
    else den *= 10n ** BigInt(-exp);
  }
  return reduce({ num, den });
}

function numberToText(n: number): string {
  if (!Number.isFinite(n)) throw new Error(`invalid quantity ${n}`);
  // Integers (the int side of int-or-string) print exactly; fractions use exponent-free decimal.
  return Number.isInteger(n) ? BigInt(n).toString() : n.toFixed(9).replace(/0+$/, '');
}

function gcd(a: bigint, b: bigint): bigint {
  a = a < 0n ? -a : a;
  while (b) [a, b] = [b, a % b];
  return a;
}

function reduce(r: Rational): Rational {
  const g = gcd(r.num, r.den) || 1n;
  return { num: r.num / g, den: r.den / g };
}

export function compareQuantities(a: QuantityInput, b: QuantityInput): -1 | 0 | 1 {
  const x = parseQuantity(a);
  const y = parseQuantity(b);
  const l = x.num * y.den;
  const r = y.num * x.den;
  return l < r ? -1 : l > r ? 1 : 0;
}

export function isPositiveQuantity(q: QuantityInput): boolean {
  return parseQuantity(q).num > 0n;
}

/**
 * One string per value: plain integers when whole ("1Gi" → "1073741824"), else an exact decimal ("500m" → "0.5").
 * Used for hashing canonical identities.
 */
export function canonicalQuantity(q: QuantityInput): string {
  const { num, den } = parseQuantity(q);
  if (den === 1n) return num.toString();
  // den = 2^a * 5^b, so the decimal expansion is finite: scale to a power of ten.
  let scale = 0;
  let pow = 1n;
  while (pow % den !== 0n) {
    scale += 1;
    pow *= 10n;
  }
  const scaled = (num * pow) / den;
  const negative = scaled < 0n;
  const digits = (negative ? -scaled : scaled).toString().padStart(scale + 1, '0');
  const text = `${digits.slice(0, digits.length - scale)}.${digits.slice(digits.length - scale)}`;
  return (negative ? '-' : '') + text;
}

/** Whole bytes, rounded up (volume sizes). */
export function quantityToBytes(q: QuantityInput): bigint {
  const { num, den } = parseQuantity(q);
  return num >= 0n ? (num + den - 1n) / den : num / den;
}

const GiB = 1n << 30n;

/** `ceil_GiB(bytes × (1 + headroom/100))` as a Quantity string such as "12Gi" (spec section 5.4). */
export function volumeSizeWithHeadroom(bytes: bigint, headroomPercent: number): string {
  const withHeadroom = (bytes * BigInt(100 + Math.round(headroomPercent)) + 99n) / 100n;
  const gib = (withHeadroom + GiB - 1n) / GiB;
  return `${gib > 0n ? gib : 1n}Gi`;
}

/** Human-readable binary size: 1536 → "1.5 KiB". */
export function formatBytes(bytes: number | bigint): string {
  let value = Number(bytes);
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB', 'PiB'];
  let unit = 0;
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit += 1;
  }
  const text = unit === 0 ? value.toFixed(0) : value.toFixed(value >= 100 ? 0 : value >= 10 ? 1 : 2);
  return `${text.replace(/\.0+$/, '').replace(/(\.\d*?)0+$/, '$1')} ${units[unit]}`;
}
