/**
 * Rollouts: the pure cores the coordinator, every device and the simulator share. Nothing here
 * does I/O, reads a clock or keeps state between calls; time (`now`) and every input come from
 * the caller, so the same code decides for one real node and for 10,000 simulated ones.
 *
 * - {@link parseRolloutManifest} / {@link validateRolloutSpec}: the YAML manifest an operator
 *   writes and the normalized {@link RolloutSpec} an admin signs into a policy.
 * - {@link hrwRank} / {@link hrwTop}: rendezvous hashing; ranks coordinator candidates (key: the rollout name) and
 *   the wave order (key: `${rollout}/waves`).
 * - {@link onPrepare} / {@link onCommand} / {@link nextEpoch} / {@link hasMajority}: the epoch
 *   rules that keep two coordinators from commanding the same rollout.
 * - {@link transition}: one device's state machine in a rollout.
 * - {@link evaluateGates}: the abort criteria over heartbeat stats.
 * - {@link decide}: the coordinator's next move; {@link nextPhase} the phase to record after it;
 *   {@link rolloutProgressSummary} counts for display.
 * - {@link nextPollGapMs}: how often a coordinator asks a device in flight where it stands.
 *
 * Selectors and durations live in `core/` (`core/selector.ts`, `core/duration.ts`) because the
 * CLI and the policy store use them too; they are re-exported here for the simulator.
 */

export {
  formatSelector, matchesSelector, parseSelector, SelectorError, validateSelector,
  MAX_SELECTOR_KEY_LENGTH, MAX_SELECTOR_TERMS, MAX_SELECTOR_TEXT_LENGTH, MAX_SELECTOR_VALUE_LENGTH, MAX_SELECTOR_VALUES
} from '../../core/selector.js'
export type { Selector, SelectorIssue, SelectorOperator, SelectorRequirement } from '../../core/selector.js'
export { DurationError, formatDuration, MAX_DURATION_MS, parseDuration } from '../../core/duration.js'

export { ManifestValidationError } from './errors.js'
export type { ManifestIssue } from './errors.js'

export {
  DEFAULT_ACTIVATION_TIMEOUT_MS, DEFAULT_MIN_NODES, DEFAULT_MIN_REQUESTS, MAX_ABORT_CRITERIA, MAX_FAILURE_REASON_LENGTH,
  MAX_MANIFEST_ALIASES, MAX_MANIFEST_BYTES, MAX_STEPS, RATE_WINDOW_MS, ROLLOUT_API_VERSION, ROLLOUT_KIND
} from './constants.js'
export { parseRolloutManifest, rolloutSpecIssues, validateRolloutSpec } from './spec.js'
export type { AbortCriterion, FailureType, GateMetric, RolloutRate, RolloutSpec, RolloutSpecInput, Step } from './spec.js'

export { hrwRank, hrwTop, hrwWeight } from './hrw.js'

export { hasMajority, INITIAL_ACCEPTOR_STATE, majorityOf, nextEpoch, onCommand, onPrepare } from './epoch.js'
export type { AcceptorState, CommandResult, EpochRejectCode, EpochRejected, PrepareResult } from './epoch.js'

export {
  DEVICE_STATE_KINDS, isActivationOutcome, isFinal, isInProgress, isUpdated, transition
} from './device.js'
export type { DeviceEvent, DeviceState, DeviceStateKind, InvalidTransition, TransitionResult } from './device.js'

export { evaluateGates } from './gates.js'
export type { GateInconclusive, GateResult, GateSample, GateTrip, InconclusiveReason } from './gates.js'

export {
  decide, effectiveSteps, nextPhase, rateBudget, ratePerMinute, rolloutProgressSummary, wantedCount
} from './plan.js'
export type { ControllerInput, Decision, ProgressState, RolloutControl, RolloutPhase, RolloutProgressSummary } from './plan.js'

export { carryPollSchedule, IN_FLIGHT_POLL_MAX_MS, IN_FLIGHT_POLL_MS, nextPollGapMs, pollDueAtMs, takeDuePoll } from './poll.js'
export type { PollSchedule } from './poll.js'

export { checkCommand } from './agent.js'
export type { CommandCheck, CommandCheckInput } from './agent.js'
export { isNewerProgress, leadershipMove, quorumOf, refusalFences } from './leadership.js'
export type { LeadershipInput, LeadershipMove } from './leadership.js'
