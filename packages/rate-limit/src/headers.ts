/**
 * The rate-limit response headers. The IETF ones follow draft-ietf-httpapi-ratelimit-headers-09
 * (March 2025): `RateLimit-Policy` lists each policy's quota (`q`), window in seconds (`w`) and,
 * when not requests, its unit (`qu`); `RateLimit` each policy's remaining units (`r`) and seconds
 * to its reset (`t`). Both are structured-field lists, so several limiters' items are appended.
 */
export type HeaderStyle = 'ietf' | 'legacy' | 'x-ratelimit';

export interface HeaderOptions {
  /**
   * Which headers: `'ietf'` (default) `RateLimit-Policy` and `RateLimit`; `'legacy'` the earlier
   * drafts' `RateLimit-Limit`, `RateLimit-Remaining`, `RateLimit-Reset`; `'x-ratelimit'` the
   * `X-RateLimit-*` trio (GitHub, Kong); a list for several. `[]` sends none (Retry-After still goes).
   */
  style?: HeaderStyle | readonly HeaderStyle[];
  /** Also on responses the limiter let through (default: only on the refused ones). */
  allowed?: boolean;
}

/** One policy's state, as the headers report it. */
export interface PolicyReport {
  readonly name: string;
  readonly quota: number;
  /** Seconds; absent for a concurrency limit, which has no window. */
  readonly windowSeconds: number | undefined;
  readonly unit: 'requests' | 'concurrent-requests';
  readonly remaining: number;
  readonly resetSeconds: number | undefined;
}

export const styles = (option: HeaderOptions['style'] = 'ietf'): readonly HeaderStyle[] => (typeof option === 'string' ? [option] : option);

/** Whole seconds, rounded up: a client told `t=0` while 400 ms remain would come back too early. */
export const seconds = (ms: number): number => Math.ceil(ms / 1000);

/** What `RateLimit-Policy` says of a policy: the same on every response. */
export type PolicyShape = Pick<PolicyReport, 'name' | 'quota' | 'windowSeconds' | 'unit'>;

/**
 * The `RateLimit-Policy` value of a limiter's policies. It depends on the limits alone, so a
 * limiter computes it once per list of limits and hands it to {@link rateLimitHeaders}.
 */
export const policyValue = (policies: readonly PolicyShape[]): string =>
  policies.map((p) => `"${p.name}";q=${p.quota}${p.windowSeconds === undefined ? '' : `;w=${p.windowSeconds}`}${p.unit === 'requests' ? '' : `;qu="${p.unit}"`}`).join(', ');

/**
 * The header values for the policies of one limiter. `policy` is their `policyValue`, when the
 * caller holds it already. `restrictive` is the one the single-valued
 * legacy headers report: the refusing policy, or the one with the fewest units left.
 */
export const rateLimitHeaders = (policies: readonly PolicyReport[], restrictive: PolicyReport, which: readonly HeaderStyle[], policy?: string): Record<string, string> => {
  const headers: Record<string, string> = {};
  for (const style of which) {
    if (style === 'ietf') {
      headers['ratelimit-policy'] = policy ?? policyValue(policies);
      headers.ratelimit = policies.map((p) => `"${p.name}";r=${p.remaining}${p.resetSeconds === undefined ? '' : `;t=${p.resetSeconds}`}`).join(', ');
    } else {
      const prefix = style === 'legacy' ? 'ratelimit' : 'x-ratelimit';
      headers[`${prefix}-limit`] = String(restrictive.quota);
      headers[`${prefix}-remaining`] = String(restrictive.remaining);
      if (restrictive.resetSeconds !== undefined) headers[`${prefix}-reset`] = String(restrictive.resetSeconds);
    }
  }
  return headers;
};

/** The headers a refusal carries beside Retry-After, and the ones the response phase adds, on a response's headers. */
export const applyHeaders = (target: { get(name: string): string | undefined; set(name: string, value: string): void }, headers: Readonly<Record<string, string>>): void => {
  for (const name in headers) {
    const value = headers[name]!;
    if (name === 'ratelimit-policy' || name === 'ratelimit') {
      // Lists: another limiter (or the upstream) may have put its own policies there already.
      const existing = target.get(name);
      target.set(name, existing ? `${existing}, ${value}` : value);
    } else if (name.endsWith('-remaining')) {
      // Single values: the most restrictive of the limiters wins.
      const existing = Number(target.get(name));
      if (!(Number.isFinite(existing) && existing <= Number(value))) {
        const prefix = name.slice(0, -'-remaining'.length);
        for (const part of ['-limit', '-remaining', '-reset']) if (headers[`${prefix}${part}`] !== undefined) target.set(`${prefix}${part}`, headers[`${prefix}${part}`]!);
      }
    }
  }
};
