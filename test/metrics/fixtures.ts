// Where the metrics test fixtures live. The build compiles only .ts files, so tests read the text
// fixtures from the source tree, found from this module's place under build/test/metrics/.
import { fileURLToPath } from 'node:url';

/** Absolute path of a file or folder under test/metrics/fixtures/. */
export function fixturePath(relative: string): string {
  return fileURLToPath(new URL(`../../../test/metrics/fixtures/${relative}`, import.meta.url));
}
