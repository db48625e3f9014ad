/**
 * `/proc/<pid>/stat` (proc(5)), split into its fields after the command name, which is in
 * parentheses and may itself hold spaces and parentheses: index 0 is field 3 (the state letter),
 * index 1 field 4 (the parent's pid), index 9 field 12 (major faults), indices 11 and 12 fields 14
 * and 15 (user and system CPU, in clock ticks). Throws where there is no /proc or no such process.
 */
import { readFileSync } from 'node:fs';

export function procStatFields(pid: number | 'self'): string[] {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  return stat.slice(stat.lastIndexOf(')') + 2).split(' ');
}
