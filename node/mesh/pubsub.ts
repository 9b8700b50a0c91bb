import { TopicValidatorResult } from '@libp2p/gossipsub'
import type { HeartbeatTransport, ValidationResult } from '../membership/membership.js'
import type { GossipSub, GossipsubMessage } from '@libp2p/gossipsub'

const RESULTS: Record<ValidationResult, TopicValidatorResult> = {
  accept: TopicValidatorResult.Accept,
  ignore: TopicValidatorResult.Ignore,
  reject: TopicValidatorResult.Reject
}

/** Membership's transport, whose validators may also answer asynchronously (signature checks). */
export interface PubsubTransport extends HeartbeatTransport {
  setValidator(topic: string, validate: (from: string, data: Uint8Array, source?: string) => ValidationResult | Promise<ValidationResult>): void
  /** Connected peers that speak gossip (an admin CLI does not). */
  peerCount?(): number
}

/** Adapts gossipsub to the narrow transport membership uses. Only signed messages are accepted. */
export function gossipsubTransport (pubsub: GossipSub): PubsubTransport {
  const listeners = new Map<string, (evt: CustomEvent<GossipsubMessage>) => void>()
  return {
    subscribe (topic, onMessage) {
      // 'gossipsub:message' rather than 'message': it names the peer that delivered the message.
      const listener = (evt: CustomEvent<GossipsubMessage>): void => {
        const { msg, propagationSource } = evt.detail
        if (msg.topic !== topic || msg.type !== 'signed') return
        onMessage(msg.from.toString(), msg.data, propagationSource.toString())
      }
      listeners.set(topic, listener)
      pubsub.addEventListener('gossipsub:message', listener)
      pubsub.subscribe(topic)
    },
    unsubscribe (topic) {
      const listener = listeners.get(topic)
      if (listener != null) pubsub.removeEventListener('gossipsub:message', listener)
      listeners.delete(topic)
      pubsub.unsubscribe(topic)
    },
    setValidator (topic, validate) {
      pubsub.topicValidators.set(topic, (peer, msg) => {
        if (msg.type !== 'signed') return TopicValidatorResult.Reject
        const result = validate(msg.from.toString(), msg.data, peer.toString())
        return result instanceof Promise ? result.then(r => RESULTS[r]) : RESULTS[result]
      })
    },
    removeValidator (topic) {
      pubsub.topicValidators.delete(topic)
    },
    async publish (topic, data) {
      await pubsub.publish(topic, data)
    },
    peerCount () {
      return pubsub.getPeers().length
    }
  }
}
