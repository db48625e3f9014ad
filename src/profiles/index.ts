/**
 * Firmware profiles (firmware-profiles/*.json): one per host class, validated against the JSON
 * Schema in that folder, merged over the defaults, clamped and frozen.
 */
export * from './defaults.js';
export * from './errors.js';
export * from './load.js';
export { PROFILE_DIRECTORY, PROFILE_SCHEMA_FILE, jsonPath, profileSchema, schemaProblems } from './schema.js';
export * from './types.js';
