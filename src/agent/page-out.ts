/**
 * Paging out the start-up code, once, a few seconds after the agent starts (docs/agent-memory.md,
 * "Thirteenth round"). Two thirds of a young agent's RSS is file-backed, mostly node's own
 * executable, and much of that was paged in only to start: module loading, the profile check, the
 * first connect, and the neighbours the kernel maps around every page that faults (64 KiB at a
 * time). Nothing unmaps them while memory is plentiful. The addon (native/page-out.c) asks the
 * kernel to reclaim the clean pages of every read-only file mapping (madvise MADV_PAGEOUT); what the
 * agent still runs faults back in within seconds, and the rest leaves memory. On this machine, with
 * the agent the only process mapping its node executable, RSS went from 62.7 to 24.3 MB at the
 * page-out and settled at 43–45 MB. Pages another process also maps (another node process on the
 * host) stay, so beside other node processes the gain is smaller.
 *
 * The addon is built at install with the system's C compiler (scripts/build.mjs). Where there was
 * none, or the kernel is older than 5.4 (no MADV_PAGEOUT), the agent says so once and runs as before.
 */
import { createRequire } from 'node:module';
import { METRIC_PREFIX, type MetricFamilyInput } from '../metrics/index.js';

/** How long after start the agent pages out: start-up is over by then (the first samples are out). */
export const PAGE_OUT_AFTER_START_MS = 3000;

/** What one page-out did. */
export interface PageOutOutcome {
  /** Read-only file mappings advised. */
  readonly mappings: number;
  /** Their total size (what was eligible, not what was resident). */
  readonly advisedBytes: number;
  readonly rssBeforeBytes: number;
  readonly rssAfterBytes: number;
}

/** Either a page-out function, or why there is none here. */
export type PageOutLoad = { readonly pageOut: () => PageOutOutcome } | { readonly unavailable: string };

interface Addon {
  pageOut(): { mappings: number; bytes: number; failed: number; error?: string };
}

/** build/native/page-out.node, beside build/src/ (this module is build/src/agent/page-out.js). */
const ADDON_PATH = new URL('../../native/page-out.node', import.meta.url).pathname;

/** Loads the addon at `path`. Nothing is paged out until the returned function is called. */
export function loadPageOut(path: string = ADDON_PATH): PageOutLoad {
  if (process.platform !== 'linux') return { unavailable: `MADV_PAGEOUT is Linux's; this is ${process.platform}` };
  let addon: Addon;
  try {
    addon = createRequire(import.meta.url)(path) as Addon;
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    return { unavailable: code === 'MODULE_NOT_FOUND' ? `${path} was not built (no C compiler at npm install)` : `${path} does not load: ${(error as Error).message}` };
  }
  return {
    pageOut: () => {
      const rssBeforeBytes = process.memoryUsage.rss();
      const result = addon.pageOut();
      if (result.mappings === 0 && result.failed > 0) throw new Error(`the kernel refused MADV_PAGEOUT (${result.error ?? 'unknown error'}; it needs Linux 5.4 or later)`);
      return { mappings: result.mappings, advisedBytes: result.bytes, rssBeforeBytes, rssAfterBytes: process.memoryUsage.rss() };
    },
  };
}

/** The page-out's state, for /metrics. */
export interface PageOutState {
  /** `pending` until it ran; `done`; `unavailable` (no addon, or the kernel refused); `off` (--no-page-out). */
  readonly status: 'pending' | 'done' | 'unavailable' | 'off';
  /** RSS before minus RSS right after, when done. */
  readonly releasedBytes: number;
}

/** The page-out's gauge for /metrics. */
export function pageOutFamilies(state: PageOutState): MetricFamilyInput[] {
  return [{
    name: `${METRIC_PREFIX}start_up_page_out_released_bytes`,
    help: 'RSS before minus RSS right after paging out the start-up code, once, 3 s after start (what the agent still runs faults back in; --no-page-out turns it off), by status: pending, done, unavailable or off.',
    type: 'gauge',
    samples: [{ labels: { status: state.status }, value: state.releasedBytes }],
  }];
}

const MiB = 1024 * 1024;
const mb = (bytes: number): string => (bytes / MiB).toFixed(1);

/**
 * Pages out once, `afterMs` from now, and logs what it did (or why it could not) on `log`.
 * Returns the state, read at any time, and a function that cancels a page-out not yet run.
 */
export function schedulePageOut(log: (message: string, fields: Record<string, unknown>) => void, afterMs: number = PAGE_OUT_AFTER_START_MS, load: () => PageOutLoad = loadPageOut): { state: () => PageOutState; cancel: () => void } {
  let state: PageOutState = { status: 'pending', releasedBytes: 0 };
  const timer = setTimeout(() => {
    const loaded = load();
    if ('unavailable' in loaded) {
      state = { status: 'unavailable', releasedBytes: 0 };
      log('start-up pages stay resident: no page-out here', { reason: loaded.unavailable });
      return;
    }
    try {
      const outcome = loaded.pageOut();
      state = { status: 'done', releasedBytes: Math.max(0, outcome.rssBeforeBytes - outcome.rssAfterBytes) };
      log('paged out start-up code; what the agent still runs comes back as it runs', { mappings: outcome.mappings, rssBeforeMB: mb(outcome.rssBeforeBytes), rssAfterMB: mb(outcome.rssAfterBytes) });
    } catch (error) {
      state = { status: 'unavailable', releasedBytes: 0 };
      log('start-up pages stay resident: no page-out here', { reason: (error as Error).message });
    }
  }, afterMs);
  timer.unref();
  return { state: () => state, cancel: () => clearTimeout(timer) };
}
