/**
 * The firmware-profile validator: JavaScript that scripts/validators.mjs generates at build time
 * (`node scripts/build.mjs`) from firmware-profiles/profile.schema.json with ajv's standalone mode,
 * written to build/src/profiles/validate-profile.js. It is the function `ajv.compile` returns for
 * that schema and those options: true when `document` is valid, else false with `errors` set.
 */
import type { ErrorObject } from 'ajv/dist/2020.js';

interface GeneratedValidator {
  (document: unknown): boolean;
  /** The errors of the last call that returned false, or null. */
  errors?: ErrorObject[] | null;
}

declare const validateProfile: GeneratedValidator;
export default validateProfile;
export { validateProfile as validate };
