import { workflowInfo } from '@temporalio/workflow';

/**
 * Time for a run to continue as new (spec 8, bounded histories): Temporal suggests it, or the history reached the
 * worker's limit (`AIM_HISTORY_EVENTS_MAX`). Checked at the top of every iteration, whatever the last pass did.
 */
export function historyFull(maxEvents: number): boolean {
  const info = workflowInfo();
  return info.continueAsNewSuggested || info.historyLength >= maxEvents;
}
