import { Ajv, type ErrorObject, type Options } from 'ajv';
import addFormats from 'ajv-formats';
import type { FastifyInstance, FastifySchema } from 'fastify';
import { PATTERN_MESSAGES, type FieldProblem } from '@offload/protocol';

/**
 * Two validators. Bodies are JSON: types are not coerced and unknown fields are rejected,
 * not dropped (SPEC §3). Query strings and path parameters arrive as text, so numbers and
 * booleans there are coerced from their text form.
 */
export function installValidators(app: FastifyInstance): void {
  const base: Options = {
    allErrors: false,
    removeAdditional: false,
    useDefaults: false,
    strict: false,
    messages: true,
  };
  const strict = addFormats.default(new Ajv({ ...base, coerceTypes: false }));
  const coercing = addFormats.default(new Ajv({ ...base, coerceTypes: true }));
  app.setValidatorCompiler(({ schema, httpPart }) => {
    const ajv = httpPart === 'body' ? strict : coercing;
    return ajv.compile(schema as FastifySchema & object);
  });
}

/** Turns ajv errors into `{field, message}` with a JSON pointer naming the field. */
export function fieldProblems(errors: readonly ErrorObject[], part: string): FieldProblem[] {
  return errors.map((e) => {
    let field = e.instancePath;
    let message = e.message ?? 'is invalid';
    switch (e.keyword) {
      case 'required':
        field += `/${String(e.params.missingProperty)}`;
        message = 'is required';
        break;
      case 'additionalProperties':
        field += `/${String(e.params.additionalProperty)}`;
        message = 'is not a known field; remove it (unknown fields are rejected, not ignored)';
        break;
      case 'enum':
        message = `must be one of: ${(e.params.allowedValues as unknown[]).join(', ')}`;
        break;
      case 'type':
        message = `must be ${String(e.params.type)}`;
        break;
      case 'anyOf':
        message = 'does not match any allowed form';
        break;
      case 'pattern':
        message = PATTERN_MESSAGES[String(e.params.pattern)] ?? message;
        break;
    }
    const prefix = part === 'body' ? '' : `${part}`;
    return { field: `${prefix}${field}` || part, message };
  });
}
