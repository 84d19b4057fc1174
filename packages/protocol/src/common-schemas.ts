import { Type, type Static } from 'typebox';

/** Limits on the sizes of things, shared by schemas, docs and tests. */
export const LIMITS = {
  nameMaxLength: 256,
  identMaxLength: 128,
  commandMaxLength: 65_536,
  argvMaxItems: 4_096,
  capabilitiesMaxItems: 64,
  tagsMaxEntries: 64,
  tagValueMaxLength: 256,
  envMaxEntries: 256,
  envValueMaxLength: 32_768,
  pathMaxLength: 4_096,
  batchMaxJobs: 10_000,
  listMaxLimit: 500,
  claimMaxJobs: 1_000,
  maxAttempts: 100,
  maxTimeoutSec: 30 * 86_400,
  maxDelaySec: 365 * 86_400,
  maxWaitSec: 300,
  maxCpu: 4_096,
  maxMemoryMb: 64 * 1024 * 1024,
  maxGpus: 64,
} as const;

/** A string enum as `{type: 'string', enum: [...]}`: one clear validation message, not an anyOf. */
export function StringEnum<const T extends readonly string[]>(
  values: T,
  options: Record<string, unknown> = {},
) {
  return Type.Unsafe<T[number]>({ type: 'string', enum: [...values], ...options });
}

/**
 * A string-to-string map whose keys are checked too. (TypeBox's Record turns the key schema
 * into a patternProperties entry, which lets keys that miss the pattern through unchecked and
 * drops length limits; propertyNames checks every key.)
 */
export function StringMap(
  key: { pattern?: string; minLength?: number; maxLength?: number },
  value: { maxLength: number; pattern?: string },
  options: { maxProperties: number; description?: string },
) {
  return Type.Unsafe<Record<string, string>>({
    type: 'object',
    propertyNames: { type: 'string', ...key },
    additionalProperties: { type: 'string', ...value },
    ...options,
  });
}

/** Queue, pool, agent and task names: what is safe in URLs, logs and metric labels. */
export const IDENT_PATTERN = '^[A-Za-z0-9][A-Za-z0-9_.:@-]*$';

/**
 * Labels people read and search — job names, idempotency keys, tags: one line of any text
 * but control characters. NUL in particular cannot be stored by PostgreSQL; the others break
 * the lines of logs, tables and terminals these labels are shown in.
 */
export const LABEL_PATTERN = '^[^\\u0000-\\u001f\\u007f]*$';

/** What each pattern means, said to whoever sent a value that misses it (validation errors). */
export const PATTERN_MESSAGES: Readonly<Record<string, string>> = {
  [IDENT_PATTERN]: 'must start with a letter or digit and hold only letters, digits and _ . : @ -',
  [LABEL_PATTERN]:
    'must not contain control characters (U+0000–U+001F, U+007F: NUL, tab, newline…)',
  '^[^\\s]+$': 'must not contain whitespace',
  '^[A-Za-z_][A-Za-z0-9_]*$':
    'must be a variable name: letters, digits and _, not starting with a digit',
};
export const Ident = (description: string) =>
  Type.String({
    minLength: 1,
    maxLength: LIMITS.identMaxLength,
    pattern: IDENT_PATTERN,
    description,
  });

/** Capabilities are free-form labels (`gpu`, `model:llama3`, `os:linux`); a trailing `*` is a prefix pattern in key limits. */
export const Capability = Type.String({
  minLength: 1,
  maxLength: LIMITS.identMaxLength,
  pattern: '^[^\\s]+$',
});

export const Id = Type.String({ minLength: 1, maxLength: 64, description: 'An opaque id.' });
export const IsoTime = Type.String({ format: 'date-time', description: 'ISO 8601 timestamp.' });

export const PRIORITIES = ['critical', 'high', 'normal', 'low'] as const;
export type Priority = (typeof PRIORITIES)[number];
export const PrioritySchema = StringEnum(PRIORITIES, {
  description: 'critical > high > normal > low; FIFO within a level.',
});

export const ErrorBodySchema = Type.Object(
  {
    error: Type.Object({
      code: Type.String(),
      message: Type.String(),
      details: Type.Optional(Type.Unknown()),
    }),
  },
  { $id: 'ErrorBody', description: 'Every error response has this shape.' },
);
export type ErrorBody = Static<typeof ErrorBodySchema>;

export const IdParams = Type.Object({ id: Id }, { additionalProperties: false });
export const NameParams = Type.Object(
  { name: Ident('Queue name.') },
  { additionalProperties: false },
);
