import { describe, expect, it } from 'vitest'
import { HEARTBEAT_DIGEST_TOPIC, HEARTBEAT_TOPIC, MAX_SHARD_BITS, shardTopic } from '../../protocols/heartbeat/index.js'
import { INVALID_MESSAGE_WEIGHT, SCORED_TOPICS, SHARD_TOPICS, fleetScoreParams } from './scoring.js'

describe('scored topics', () => {
  it('score invalid messages on the digest topic and on every shard topic a node may use', () => {
    expect(SHARD_TOPICS).toHaveLength(2 ** (MAX_SHARD_BITS + 1) - 2)
    expect(SHARD_TOPICS).toContain(shardTopic(1, 0))
    expect(SHARD_TOPICS).toContain(shardTopic(MAX_SHARD_BITS, 2 ** MAX_SHARD_BITS - 1))
    const topics = fleetScoreParams().topics!
    for (const t of [HEARTBEAT_TOPIC, HEARTBEAT_DIGEST_TOPIC, shardTopic(6, 17), shardTopic(MAX_SHARD_BITS, 0)]) {
      expect(SCORED_TOPICS).toContain(t)
      expect(topics[t]?.invalidMessageDeliveriesWeight).toBe(INVALID_MESSAGE_WEIGHT)
    }
  })
})
