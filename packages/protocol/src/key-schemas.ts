import { Type, type Static } from 'typebox';
import { Capability, Id, Ident, IsoTime, LIMITS, StringEnum } from './common-schemas.js';

export const SCOPES = ['submit', 'read', 'cancel', 'admin', 'shell'] as const;
export type Scope = (typeof SCOPES)[number];

export const KEY_KINDS = ['api-key', 'join-token'] as const;
export type KeyKind = (typeof KEY_KINDS)[number];

export const KeyCreateSchema = Type.Object(
  {
    kind: StringEnum(KEY_KINDS),
    name: Type.String({ minLength: 1, maxLength: LIMITS.nameMaxLength }),
    scopes: Type.Optional(Type.Array(StringEnum(SCOPES), { minItems: 1, uniqueItems: true })),
    queues: Type.Optional(Type.Array(Ident('Queue name.'), { maxItems: 256, uniqueItems: true })),
    capabilities: Type.Optional(
      Type.Array(Capability, {
        maxItems: 256,
        uniqueItems: true,
        description: 'Capabilities this key may require; `llm:*` matches a prefix.',
      }),
    ),
    ttlSec: Type.Optional(Type.Integer({ minimum: 1, maximum: 10 * 365 * 86_400 })),
    singleUse: Type.Optional(
      Type.Boolean({ description: 'Join tokens only: valid for one registration.' }),
    ),
  },
  { additionalProperties: false },
);
export type KeyCreate = Static<typeof KeyCreateSchema>;

/** A key or token as listed: never the secret. */
export const KeySchema = Type.Object(
  {
    id: Id,
    kind: StringEnum(KEY_KINDS),
    name: Type.String(),
    scopes: Type.Optional(Type.Array(StringEnum(SCOPES))),
    queues: Type.Optional(Type.Array(Type.String())),
    capabilities: Type.Optional(Type.Array(Type.String())),
    singleUse: Type.Optional(Type.Boolean()),
    expiresAt: Type.Optional(IsoTime),
    createdAt: IsoTime,
    lastUsedAt: Type.Optional(IsoTime),
    revokedAt: Type.Optional(IsoTime),
  },
  { $id: 'Key' },
);
export type Key = Static<typeof KeySchema>;

export const KeyCreatedSchema = Type.Object({
  ...KeySchema.properties,
  token: Type.String({ description: 'The secret. Shown only in this response.' }),
});
export type KeyCreated = Static<typeof KeyCreatedSchema>;

/** The credential a request carries, as the server sees it (`GET /api/v1/whoami`). */
export const WhoamiSchema = Type.Object(
  {
    kind: StringEnum(['admin', 'api-key'] as const),
    id: Id,
    name: Type.Optional(Type.String({ description: "The API key's name." })),
    scopes: Type.Array(StringEnum(SCOPES), {
      description: 'What it may do; the admin token has every scope.',
    }),
    queues: Type.Optional(
      Type.Array(Type.String(), { description: 'The only queues it may use, when limited.' }),
    ),
    capabilities: Type.Optional(
      Type.Array(Type.String(), {
        description: 'The only capabilities its jobs may require, when limited.',
      }),
    ),
  },
  { $id: 'Whoami' },
);
export type Whoami = Static<typeof WhoamiSchema>;

export const KeyListSchema = Type.Object({ keys: Type.Array(KeySchema) });
