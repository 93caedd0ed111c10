import { patched } from '@temporalio/workflow';

/**
 * A run is bound to one object UID (spec 5.0). True when the name now holds a different, live object: the run then
 * hands over to a fresh run (continue-as-new without the old UID) instead of ending, so that a nudge for the new
 * object that reached this run is not lost with it. Behind a patch: runs recorded before it simply ended.
 */
export function recreated(
  snap: { exists: boolean; uid?: string | undefined; deleting?: boolean | undefined },
  boundUid: string | undefined,
): boolean {
  const other = snap.exists && !snap.deleting && !!boundUid && !!snap.uid && snap.uid !== boundUid;
  return other && patched('aim-rebind-recreated-v1');
}
