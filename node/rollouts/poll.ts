/**
 * How often a coordinator asks a device in flight where it stands (pure; the node's coordinator
 * and the simulator's share it). A device is asked soon after its command or after any change of
 * its state (the steps after a download, Verifying -> Loading -> SmokeTest -> Active, follow each
 * other within a second or two), and ever less often while its state stands still (a download of
 * a large model on a slow link takes minutes): the gap doubles from {@link IN_FLIGHT_POLL_MS} up
 * to {@link IN_FLIGHT_POLL_MAX_MS}. Heartbeats carry the same states; the polls only make them
 * come sooner.
 */

/** The gap to a device's first poll after its command or a change of its state, ms. @default 200 */
export const IN_FLIGHT_POLL_MS = 200
/** The longest gap between two polls of a device whose state stands still, ms. @default 1600 */
export const IN_FLIGHT_POLL_MAX_MS = 1600

/**
 * The gap to the next poll of a device in flight: {@link IN_FLIGHT_POLL_MS} when its state just
 * changed (or nothing was asked yet), else twice the last gap, at most {@link IN_FLIGHT_POLL_MAX_MS}.
 */
export function nextPollGapMs (lastGapMs: number | undefined, changed: boolean): number {
  if (changed || lastGapMs === undefined || !(lastGapMs > 0)) return IN_FLIGHT_POLL_MS
  return Math.min(IN_FLIGHT_POLL_MAX_MS, Math.max(IN_FLIGHT_POLL_MS, lastGapMs * 2))
}
