/**
 * Operating errors from loading a firmware profile. Each has a stable `code`; an invalid profile
 * also lists every problem found, each with the JSON path of the setting at fault.
 */
export type ProfileErrorCode = 'PROFILE_NOT_FOUND' | 'PROFILE_UNREADABLE' | 'PROFILE_TOO_LARGE' | 'PROFILE_INVALID';

/** One problem in a profile: where (a JSON path such as `$.store.fsync.batchMs`) and what. */
export interface ProfileProblem {
  readonly path: string;
  readonly message: string;
}

/** A profile that cannot be used; the agent refuses to start with it. */
export class ProfileError extends Error {
  constructor(
    readonly code: ProfileErrorCode,
    message: string,
    readonly problems: readonly ProfileProblem[] = [],
  ) {
    super(problems.length === 0 ? message : `${message}\n${problems.map((p) => `  ${p.path}: ${p.message}`).join('\n')}`);
    this.name = 'ProfileError';
  }
}
