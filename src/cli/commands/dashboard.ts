/**
 * `foreshard dashboard`: the live cluster dashboard on its own, for operators who want it away from
 * the coordinator (or for a cluster whose coordinator does not serve one). It follows the cluster
 * over MQTT only (src/dashboard/), so it needs nothing but the broker.
 */
import { OperatingError, UsageError, type Command } from '../command.js';
import { numberOption } from '../parse.js';
import { DashboardError, startClusterView, startDashboard } from '../../dashboard/index.js';
import { createLogger } from '../../common/log.js';
import { readTargetOptions, resolveReadTarget } from './status.js';

/** The dashboard's default port (the gateway's is 7070). */
export const DASHBOARD_DEFAULT_PORT = 7080;

/** `foreshard dashboard`. */
export const dashboardCommand: Command = {
  name: 'dashboard',
  summary: 'serve the live cluster dashboard (map, scores with forecasts, incidents, switch timeline)',
  usage: '[--port <n>] [--host <addr>] [--data-dir <dir> | --broker <url> [--cluster <id>]]',
  details: [
    'Serves / (the page), /api/state (JSON snapshot), /api/events (Server-Sent Events) and /healthz.',
    'It only subscribes to the cluster\'s MQTT topics, so it can run anywhere the broker is reachable.',
    'Listen on 127.0.0.1 (the default) unless the network in front of it is trusted: the page has no login.',
  ].join('\n'),
  options: {
    port: { type: 'string', description: 'HTTP port', default: String(DASHBOARD_DEFAULT_PORT), valueName: '<n>' },
    host: { type: 'string', description: 'address to listen on', default: '127.0.0.1', valueName: '<addr>' },
    ...readTargetOptions,
  },
  async run(positionals, options) {
    if (positionals.length > 0) throw new UsageError(`unexpected argument ${JSON.stringify(positionals[0])}`);
    const port = numberOption(options, 'port', 0, 65535);
    if (!Number.isInteger(port)) throw new UsageError(`--port must be a whole number, got ${port}`);
    const target = resolveReadTarget(options);
    const logger = createLogger('dashboard');
    const view = startClusterView({
      brokerUrl: target.brokerUrl, cluster: target.cluster, logger: logger.child('view'), login: target.login,
    });
    try {
      await view.ready;
      const dashboard = await startDashboard({ port, host: String(options.host), view, logger });
      process.stdout.write(`dashboard for cluster ${target.cluster} on ${dashboard.url} (broker ${target.brokerUrl})\n`);
      await new Promise<void>((resolve) => {
        process.once('SIGINT', resolve);
        process.once('SIGTERM', resolve);
      });
      await dashboard.close();
      return 0;
    } catch (error) {
      if (error instanceof DashboardError) throw new OperatingError(error.code, error.message);
      throw error;
    } finally {
      await view.close();
    }
  },
};
