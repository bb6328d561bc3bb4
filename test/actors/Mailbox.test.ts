import { describe, expect, it } from "@effect/vitest"
import { Mailbox } from "../../src/actors/Mailbox.ts"

describe("Mailbox", () => {
  it("queues up to mailboxCommandsMax, blocks up to blockedCommandsMax waiting callers, and refuses the rest", () => {
    const mailbox = new Mailbox<number>({ mailboxCommandsMax: 2, blockedCommandsMax: 1, batchCommandsMax: 2 })
    expect([mailbox.offer(1, true), mailbox.offer(2, true)]).toEqual(["queued", "queued"])
    expect(mailbox.offer(3, false)).toBe("refused")
    expect(mailbox.offer(3, true)).toBe("blocked")
    expect(mailbox.offer(4, true)).toBe("refused")
    expect(mailbox.size).toBe(3)
    expect(mailbox.take()).toEqual([1, 2])
    // The blocked caller moved up into the room the batch freed.
    expect(mailbox.offer(4, true)).toBe("queued")
    expect(mailbox.drain()).toEqual([3, 4])
    expect(mailbox.isEmpty).toBe(true)
  })

  it("takes at most batchCommandsMax per batch, in arrival order", () => {
    const mailbox = new Mailbox<number>({ mailboxCommandsMax: 8, blockedCommandsMax: 0, batchCommandsMax: 3 })
    for (let i = 0; i < 5; i++) mailbox.offer(i, true)
    expect(mailbox.take()).toEqual([0, 1, 2])
    expect(mailbox.take()).toEqual([3, 4])
    expect(mailbox.take()).toEqual([])
  })
})
