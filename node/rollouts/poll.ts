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

/** When a coordinator next asks one device in flight, and the gap that came to. */
export interface PollSchedule {
  pollAtMs?: number
  pollGapMs?: number
}

/**
 * Brings what the coordinator knew of a device (`before`) over to what it just learnt (`known`):
 * the same state of the same policy version keeps its schedule; anything else is asked again
 * {@link IN_FLIGHT_POLL_MS} from `now`.
 */
export function carryPollSchedule<T extends PollSchedule & { state?: string, policyVersion: number }> (before: T | undefined, known: T, now: number): T {
  if (before !== undefined && before.state === known.state && before.policyVersion === known.policyVersion) {
    known.pollAtMs = before.pollAtMs
    known.pollGapMs = before.pollGapMs
  } else {
    known.pollGapMs = nextPollGapMs(undefined, true)
    known.pollAtMs = now + known.pollGapMs
  }
  return known
}

/**
 * Whether a device in flight is asked in the poll running at `now` (those due within half the
 * first gap are asked with those due now: fewer ticks, each asking more devices); if so, its next
 * ask is scheduled as though nothing changed (an answer that shows a change resets it).
 */
export function takeDuePoll (d: PollSchedule, now: number): boolean {
  if ((d.pollAtMs ?? 0) > now + IN_FLIGHT_POLL_MS / 2) return false
  d.pollGapMs = nextPollGapMs(d.pollGapMs, false)
  d.pollAtMs = now + d.pollGapMs
  return true
}

/**
 * When a coordinator should tick for a device in flight: at its poll time once its epoch is
 * established, never sooner than the window {@link takeDuePoll} asks together (so a device a
 * tick skips cannot make ticks spin); before that, {@link IN_FLIGHT_POLL_MS} from now, to ask for
 * the promises again.
 */
export function pollDueAtMs (d: PollSchedule, now: number, established: boolean): number {
  return established ? Math.max(now + IN_FLIGHT_POLL_MS / 2, d.pollAtMs ?? now) : now + IN_FLIGHT_POLL_MS
}
