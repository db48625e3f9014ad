import { randomBytes, scryptSync, timingSafeEqual } from 'node:crypto';
import { readFileSync } from 'node:fs';

/**
 * The broker's password file: JSON `{"users": {"<username>": "scrypt$<saltHex>$<hashHex>"}}`.
 * Passwords are never stored in clear; `foreshard broker --hash-password` makes an entry.
 */
export interface PasswordFile {
  users: Record<string, string>;
}

const scryptKeyBytes = 32;
const saltBytes = 16;

/** Hashes a password into the password file's `scrypt$salt$hash` form. */
export function hashPassword(password: string, salt: Buffer = randomBytes(saltBytes)): string {
  const hash = scryptSync(password, salt, scryptKeyBytes);
  return `scrypt$${salt.toString('hex')}$${hash.toString('hex')}`;
}

/** True when `password` matches the stored `scrypt$salt$hash` entry (timing-safe). */
export function verifyPassword(entry: string, password: Buffer | string): boolean {
  const [scheme, saltHex, hashHex] = entry.split('$');
  if (scheme !== 'scrypt' || !saltHex || !hashHex) return false;
  const expected = Buffer.from(hashHex, 'hex');
  const actual = scryptSync(password, Buffer.from(saltHex, 'hex'), expected.length);
  return expected.length === scryptKeyBytes && timingSafeEqual(expected, actual);
}

/** Loads and checks a password file; throws with the file name and the problem when it is unusable. */
export function loadPasswordFile(path: string): PasswordFile {
  let parsed: unknown;
  try {
    parsed = JSON.parse(readFileSync(path, 'utf8'));
  } catch (error) {
    throw Object.assign(new Error(`cannot read password file ${path}: ${(error as Error).message}`), { code: 'AUTH_FILE' });
  }
  const users = (parsed as { users?: unknown }).users;
  if (typeof users !== 'object' || users === null || Array.isArray(users)) {
    throw Object.assign(new Error(`password file ${path}: expected {"users": {"name": "scrypt$..."}}`), { code: 'AUTH_FILE' });
  }
  for (const [name, entry] of Object.entries(users)) {
    if (typeof entry !== 'string' || !entry.startsWith('scrypt$')) {
      throw Object.assign(new Error(`password file ${path}: user ${JSON.stringify(name)} has no scrypt$ entry`), { code: 'AUTH_FILE' });
    }
  }
  return { users: users as Record<string, string> };
}
