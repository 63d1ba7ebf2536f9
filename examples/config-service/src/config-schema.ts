import { z } from 'zod';

// Any Standard Schema works (zod, valibot, arktype): @reloadscope/config rejects a version that
// does not match, and the error names the failing paths but never the values (configs hold secrets).
export const ConfigSchema = z.strictObject({
  greeting: z.string().min(1).max(200),
  features: z.strictObject({ shout: z.boolean() }).default({ shout: false }),
  rateLimit: z.strictObject({ requestsPerMinute: z.number().int().positive() }),
  server: z.strictObject({ port: z.number().int().min(0).max(65535) }),
  upstream: z.strictObject({ url: z.url({ protocol: /^https?$/ }) }).optional(),
});

export type Config = z.infer<typeof ConfigSchema>;
