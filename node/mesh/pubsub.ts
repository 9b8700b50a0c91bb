import { TopicValidatorResult } from '@libp2p/gossipsub'
import type { HeartbeatTransport, ValidationResult } from '../membership/membership.js'
import type { GossipSub, Message } from '@libp2p/gossipsub'

const RESULTS: Record<ValidationResult, TopicValidatorResult> = {
  accept: TopicValidatorResult.Accept,
  ignore: TopicValidatorResult.Ignore,
  reject: TopicValidatorResult.Reject
}

/** Membership's transport, whose validators may also answer asynchronously (signature checks). */
export interface PubsubTransport extends HeartbeatTransport {
  setValidator(topic: string, validate: (from: string, data: Uint8Array) => ValidationResult | Promise<ValidationResult>): void
}

/** Adapts gossipsub to the narrow transport membership uses. Only signed messages are accepted. */
export function gossipsubTransport (pubsub: GossipSub): PubsubTransport {
  const listeners = new Map<string, (evt: CustomEvent<Message>) => void>()
  return {
    subscribe (topic, onMessage) {
      const listener = (evt: CustomEvent<Message>): void => {
        const msg = evt.detail
        if (msg.topic !== topic || msg.type !== 'signed') return
        onMessage(msg.from.toString(), msg.data)
      }
      listeners.set(topic, listener)
      pubsub.addEventListener('message', listener)
      pubsub.subscribe(topic)
    },
    unsubscribe (topic) {
      const listener = listeners.get(topic)
      if (listener != null) pubsub.removeEventListener('message', listener)
      listeners.delete(topic)
      pubsub.unsubscribe(topic)
    },
    setValidator (topic, validate) {
      pubsub.topicValidators.set(topic, (_peer, msg) => {
        if (msg.type !== 'signed') return TopicValidatorResult.Reject
        const result = validate(msg.from.toString(), msg.data)
        return result instanceof Promise ? result.then(r => RESULTS[r]) : RESULTS[result]
      })
    },
    removeValidator (topic) {
      pubsub.topicValidators.delete(topic)
    },
    async publish (topic, data) {
      await pubsub.publish(topic, data)
    }
  }
}
