import type { Command } from '../command.js';
import { upCommand } from './up.js';
import { detectCommand } from './detect.js';
import { evalCommand } from './eval.js';
import { brokerCommand } from './broker.js';
import { restoreCommand } from './restore.js';
import { conflictsCommand } from './conflicts.js';
import { agentCommand } from './agent.js';
import { gatewayCommand } from './gateway.js';
import { tokenCommand } from './token.js';
import { coordinatorCommand } from './coordinator.js';
import { incidentsCommand } from './incidents.js';
import { switchCommand } from './switch.js';
import { pauseAutomationCommand, resumeAutomationCommand } from './automation.js';
import { chaosCommand } from './chaos.js';
import { statusCommand } from './status.js';
import { dashboardCommand } from './dashboard.js';

/**
 * Every subcommand that works today. A command is listed here only once it does its job: `--help`
 * never shows one that pretends to work.
 */
export const commands: readonly Command[] = [
  upCommand,
  detectCommand, evalCommand,
  brokerCommand,
  restoreCommand, conflictsCommand,
  agentCommand,
  gatewayCommand, tokenCommand,
  coordinatorCommand, incidentsCommand, switchCommand, pauseAutomationCommand, resumeAutomationCommand,
  chaosCommand,
  statusCommand, dashboardCommand,
];
