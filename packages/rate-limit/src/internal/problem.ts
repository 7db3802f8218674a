import type { ProblemType } from '@apigate/errors';

/**
 * The problem type draft-ietf-httpapi-ratelimit-headers-09 registers for a refused request (section
 * "Problem Types"), with its `violated-policies` member: the names of the policies that refused.
 */
export const quotaExceeded = (violated: readonly string[]): ProblemType => ({
  type: 'https://iana.org/assignments/http-problem-types#quota-exceeded',
  title: 'Request cannot be satisfied as assigned quota has been exceeded',
  members: { 'violated-policies': violated },
});
