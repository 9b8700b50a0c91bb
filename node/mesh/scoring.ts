/**
 * gossipsub peer scoring, configured for a fleet rather than for the public internet that
 * gossipsub's defaults assume. Every parameter and why is in docs/SCORING.md.
 *
 * Two defaults hurt a fleet. IP colocation (P6) penalises every peer of an address that shows
 * more than 10 peer ids, and the penalty is remembered for an hour: devices behind one NAT, a
 * single-host demo, or one member starting 15 short-lived identities then graylist honest peers
 * and cut the fleet apart. And no topic has scores, so invalid messages (P4) cost their sender
 * nothing. Here P6 only starts past {@link IP_COLOCATION_THRESHOLD} peer ids per address, and
 * the topics that validate (heartbeat, policy, rollout progress) penalise invalid messages,
 * squared, with a decay so that an honest peer that sent a few recovers in seconds.
 */
import { HEARTBEAT_DIGEST_TOPIC, HEARTBEAT_TOPIC, MAX_SHARD_BITS } from '../../protocols/heartbeat/constants.js'
import { shardTopic } from '../../protocols/heartbeat/digest.js'
import { POLICY_TOPIC } from '../../protocols/policy/constants.js'
import { ROLLOUT_PROGRESS_TOPIC } from '../../protocols/rollout/constants.js'
import type { PeerScoreParams, PeerScoreThresholds, TopicScoreParams } from '@libp2p/gossipsub/score'

/**
 * Every shard heartbeat topic a node may use (`tutti/heartbeat/1/s<bits>/<index>`, bits 1 to
 * MAX_SHARD_BITS: 2046 topics). gossipsub scores only topics named in its parameters, which are
 * fixed when it starts, and the shard a node is in moves with the fleet size, so all are named.
 */
export const SHARD_TOPICS: readonly string[] = Array.from({ length: MAX_SHARD_BITS }, (_, b) => b + 1)
  .flatMap(bits => Array.from({ length: 2 ** bits }, (_, i) => shardTopic(bits, i)))

/** Topics whose messages a validator checks, so a rejected message says something of its sender. */
export const SCORED_TOPICS: readonly string[] = [HEARTBEAT_TOPIC, HEARTBEAT_DIGEST_TOPIC, ...SHARD_TOPICS, POLICY_TOPIC, ROLLOUT_PROGRESS_TOPIC]

/**
 * Peer ids one IP address may show before P6 penalises them: a NAT in front of a site's
 * devices, or a host running a demo fleet. Past it, (n - threshold)^2 x the weight. @default 64
 */
export const IP_COLOCATION_THRESHOLD = 64

/** Weight of P6, per squared peer id past the threshold. @default -1 */
export const IP_COLOCATION_WEIGHT = -1

/** Weight of P4, per squared invalid message (before topic weight 1). @default -1 */
export const INVALID_MESSAGE_WEIGHT = -1

/**
 * Factor the invalid-message counter is multiplied by every decay interval (1 s): 0.97 halves
 * it in about 23 s. @default 0.97
 */
export const INVALID_MESSAGE_DECAY = 0.97

/** Per-topic scoring: invalid messages only (see docs/SCORING.md for what is left out and why). */
export function fleetTopicScoreParams (): Partial<TopicScoreParams> {
  return {
    topicWeight: 1,
    // P1 and P2 (time in mesh, first deliveries) would let a long-connected peer bank credit
    // that offsets invalid messages; a fleet gains nothing from ranking honest peers.
    timeInMeshWeight: 0,
    timeInMeshQuantum: 1000,
    timeInMeshCap: 1,
    firstMessageDeliveriesWeight: 0,
    firstMessageDeliveriesDecay: 0.5,
    firstMessageDeliveriesCap: 1,
    // P3 and P3b expect a message rate (20 per decay window by default): heartbeats come every
    // 1-60 s, policy and rollout messages rarely, so these would punish every honest peer.
    meshMessageDeliveriesWeight: 0,
    meshMessageDeliveriesDecay: 0.5,
    meshMessageDeliveriesCap: 1,
    meshMessageDeliveriesThreshold: 0,
    meshMessageDeliveriesWindow: 10,
    meshMessageDeliveriesActivation: 5000,
    meshFailurePenaltyWeight: 0,
    meshFailurePenaltyDecay: 0.5,
    // P4: the count of rejected messages, squared. 9 in a row reach the graylist (-80).
    invalidMessageDeliveriesWeight: INVALID_MESSAGE_WEIGHT,
    invalidMessageDeliveriesDecay: INVALID_MESSAGE_DECAY
  }
}

/** The `scoreParams` every mesh node passes to gossipsub. */
export function fleetScoreParams (): Partial<PeerScoreParams> {
  const shared = fleetTopicScoreParams() as TopicScoreParams
  return {
    // One params object shared by every topic: 2000 shard topics need not be 2000 copies.
    topics: Object.fromEntries(SCORED_TOPICS.map(t => [t, shared])),
    topicScoreCap: 10,
    appSpecificScore: () => 0,
    appSpecificWeight: 0,
    IPColocationFactorWeight: IP_COLOCATION_WEIGHT,
    IPColocationFactorThreshold: IP_COLOCATION_THRESHOLD,
    IPColocationFactorWhitelist: new Set(),
    // P7 as gossipsub has it: re-grafting during a backoff and broken IHAVE promises.
    behaviourPenaltyWeight: -10,
    behaviourPenaltyThreshold: 0,
    behaviourPenaltyDecay: 0.2,
    decayInterval: 1000,
    decayToZero: 0.1,
    // A disconnected peer's counters are kept this long (default: an hour), so reconnecting does
    // not wash a penalty away, but a device that was wrongly penalised is not shut out for long.
    retainScore: 10 * 60_000
  }
}

/** The `scoreThresholds`: gossipsub's, spelled out so a change here is a decision. */
export const FLEET_SCORE_THRESHOLDS: PeerScoreThresholds = {
  gossipThreshold: -10,
  publishThreshold: -50,
  graylistThreshold: -80,
  acceptPXThreshold: 10,
  opportunisticGraftThreshold: 20
}
