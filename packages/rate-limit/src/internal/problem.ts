import type { ProblemType } from '@apigate/errors';

/**
 * The problem type draft-ietf-httpapi-ratelimit-headers-09 defines for a refused request (section
 * 5.1), with its `violated-policies` member: an array of the names of the policies that refused.
 * The title is the one the draft registers (section 10.2.1, "Title: Quota Exceeded"); RFC 9457 has
 * a type's title stay the same on every occurrence, and section 5.1's example sentence is not it.
 */
export const quotaExceeded = (violated: readonly string[]): ProblemType => ({
  type: 'https://iana.org/assignments/http-problem-types#quota-exceeded',
  title: 'Quota Exceeded',
  members: { 'violated-policies': violated },
});
