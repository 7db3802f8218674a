import { z } from 'zod';

/** The order both JSON-validating contestants check. */
export const order = z.object({
  sku: z.string().min(1).max(64),
  qty: z.number().int().positive().max(1000),
  note: z.string().max(200).optional(),
});
