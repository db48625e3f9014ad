// Proves the dashboard in a real browser: headless Debian Chromium driven by playwright-core loads
// the page served by startDashboard (view on a real embedded broker), shows the three nodes, and
// shows a switch (a routing change with a new primary and epoch, published while the page is open)
// within three seconds, both in the shard map and in the switch timeline.
// Skips, printing why, when /usr/bin/chromium or playwright-core is missing (scripts/ensure-chromium.sh
// installs Chromium). With FORESHARD_DASHBOARD_SCREENSHOT=<file.png> it also saves a screenshot.
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { EmbeddedBroker } from '../../src/broker/embedded.js';
import { createLogger } from '../../src/common/log.js';
import { startClusterView, startDashboard, type ClusterView, type Dashboard } from '../../src/dashboard/index.js';
import { NODES, Publisher, initialRouting, quietBroker, route, scoreFor, switchIncident } from './helpers.js';

const CHROMIUM = '/usr/bin/chromium';
const SWITCH_VISIBLE_WITHIN_MS = 3000;
const silent = createLogger('test', () => undefined);

/** The little of playwright-core's API this test uses (it is an optional dev dependency, loaded at run time). */
interface Locator { waitFor(options: { state?: 'visible' | 'attached'; timeout: number }): Promise<void>; count(): Promise<number>; textContent(): Promise<string | null> }
interface Page { goto(url: string): Promise<unknown>; locator(selector: string): Locator; screenshot(options: { path: string; fullPage: boolean }): Promise<unknown>; click(selector: string): Promise<void> }
interface Browser { newPage(): Promise<Page>; close(): Promise<void> }
interface Chromium {
  /** A fresh profile directory per run: playwright wants it here rather than as --user-data-dir. */
  launchPersistentContext(userDataDir: string, options: { executablePath: string; args: string[]; headless: boolean; timeout: number; viewport: { width: number; height: number } }): Promise<Browser>;
}

async function loadChromium(): Promise<{ chromium: Chromium } | { reason: string }> {
  if (!existsSync(CHROMIUM)) return { reason: `${CHROMIUM} is missing (run scripts/ensure-chromium.sh)` };
  const name = 'playwright-core';
  try {
    const module = (await import(name)) as { chromium: Chromium };
    return { chromium: module.chromium };
  } catch {
    return { reason: 'playwright-core is not installed (npm install --no-save playwright-core, or add it as a devDependency)' };
  }
}

describe('dashboard in headless Chromium', async () => {
  const loaded = await loadChromium();
  if ('reason' in loaded) {
    console.log(`# skipping the browser test: ${loaded.reason}`);
    it('loads, shows the nodes and a switch', { skip: loaded.reason }, () => undefined);
    return;
  }
  let broker: EmbeddedBroker;
  let publisher: Publisher;
  let view: ClusterView;
  let dashboard: Dashboard;
  let browser: Browser;
  let scores: NodeJS.Timeout;
  let profileDir: string;
  let level = 0.35;

  before(async () => {
    broker = await quietBroker();
    publisher = await Publisher.connect(broker.url);
    const now = Date.now();
    for (const node of NODES) await publisher.birth(node, now - 120_000);
    await publisher.routing(initialRouting(1, now - 120_000));
    view = startClusterView({ brokerUrl: broker.url, cluster: publisher.topics.cluster, logger: silent });
    await view.ready;
    // Two minutes of history (backdated), node-a's disk slowly degrading, so the charts have a shape.
    for (let i = 120; i > 0; i--) await publishScores(now - i * 1000, Math.max(0, 0.35 * (1 - i / 120) + 0.05 * Math.sin(i / 7)));
    scores = setInterval(() => {
      level = Math.min(0.95, level + 0.01);
      void publishScores(Date.now(), level).catch(() => undefined);
    }, 250);
    dashboard = await startDashboard({ port: 0, view, logger: silent });
    profileDir = mkdtempSync(join(tmpdir(), 'foreshard-chromium-'));
    browser = await loaded.chromium.launchPersistentContext(profileDir, {
      executablePath: CHROMIUM,
      headless: true,
      timeout: 20_000,
      viewport: { width: 1440, height: 1000 },
      args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
    });
  });

  async function publishScores(ts: number, degradation: number): Promise<void> {
    const wobble = (seed: number): number => 0.02 * Math.sin(ts / 3000 + seed);
    await publisher.score('node-a', scoreFor('node-a', ts, Math.min(1, 0.05 + degradation * 0.9 + wobble(1)), Math.min(1, 0.08 + degradation + wobble(2)), [0, 3, 6, 2], degradation));
    await publisher.score('node-b', scoreFor('node-b', ts, 0.06 + wobble(3), 0.09 + wobble(4), [1, 4, 7, 0, 3, 6], 0.05));
    await publisher.score('node-c', scoreFor('node-c', ts, 0.04 + wobble(5), 0.07 + wobble(6), [2, 5, 1, 4, 7], 0.03));
  }

  after(async () => {
    clearInterval(scores);
    await browser?.close();
    await dashboard?.close();
    await view?.close();
    await publisher?.close();
    await broker?.close();
    if (profileDir) rmSync(profileDir, { recursive: true, force: true });
  });

  it('loads, shows the nodes, and shows a switch within seconds of it happening', async () => {
    const page = await browser.newPage();
    await page.goto(dashboard.url);
    for (const node of NODES) await page.locator(`[data-node="${node}"][data-state="online"]`).waitFor({ state: 'visible', timeout: 10_000 });
    assert.equal(await page.locator('[data-node]').count(), 3);
    await page.locator('[data-shard="3"][data-primary="node-a"]').waitFor({ state: 'visible', timeout: 5000 });

    const switchedAt = Date.now();
    const paused = initialRouting(2, switchedAt);
    paused.shards[3] = route(3, 1, 'node-a', ['node-b'], 'paused');
    await publisher.routing(paused);
    const moved = initialRouting(3, switchedAt + 40);
    moved.shards[3] = route(3, 2, 'node-b', ['node-a']);
    await publisher.routing(moved);
    await publisher.incident(switchIncident('inc-0001', 3, 'node-a', 'node-b', switchedAt));
    await page.locator('[data-shard="3"][data-primary="node-b"][data-epoch="2"]').waitFor({ state: 'visible', timeout: SWITCH_VISIBLE_WITHIN_MS });
    await page.locator('li[data-timeline-kind="switch"][data-shard="3"]').waitFor({ state: 'visible', timeout: SWITCH_VISIBLE_WITHIN_MS });
    const shownAfterMs = Date.now() - switchedAt;
    assert.ok(shownAfterMs < SWITCH_VISIBLE_WITHIN_MS, `switch shown after ${shownAfterMs} ms`);
    assert.match((await page.locator('li[data-timeline-kind="switch"][data-shard="3"]').textContent()) ?? '', /node-a → node-b, epoch 1 → 2/);
    await page.locator('[data-incident="inc-0001"]').waitFor({ state: 'visible', timeout: SWITCH_VISIBLE_WITHIN_MS });

    const screenshot = process.env.FORESHARD_DASHBOARD_SCREENSHOT;
    if (screenshot) {
      await page.click('[data-incident="inc-0001"] summary');
      await page.click('[data-shard="0"]');
      await new Promise((resolve) => setTimeout(resolve, 1500));
      await page.screenshot({ path: screenshot, fullPage: true });
      console.log(`# screenshot saved to ${screenshot}`);
    }
  });
});
