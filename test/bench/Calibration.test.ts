/**
 * How much the bench slows the model down: only when the model asks for more than half of what
 * the machine moved, by one factor for every rate and latency, and said in so many words.
 */
import { describe, expect, it } from "@effect/vitest"
import { autoScale, demand, estimateSeconds, scaleNote } from "../../src/bench/Calibration.js"
import * as S3Model from "../../src/bench/S3Model.js"

describe("calibration", () => {
  it("asks for min(total, N x per connection)", () => {
    expect(demand(S3Model.lambdaDefaults, 4)).toBe(360)
    expect(demand(S3Model.lambdaDefaults, 32)).toBe(1250)
  })

  it("slows down only when the demand exceeds half the machine, rounding the factor up to a tenth", () => {
    expect(autoScale(360, 1000)).toBe(1)
    expect(autoScale(1250, 250)).toBe(10)
    expect(autoScale(1250, 300)).toBe(8.4)
    expect(autoScale(Number.POSITIVE_INFINITY, 300)).toBe(1)
  })

  it("says whether the model was slowed down, and by how much", () => {
    expect(scaleNote({ capacityMBps: 2000, demandMBps: 360, scale: 1, automatic: true })).toContain("No slow-down")
    const note = scaleNote({ capacityMBps: 250, demandMBps: 1250, scale: 10, automatic: true })
    expect(note).toContain("The machine moved 250 MB/s")
    expect(note).toContain("by 10 (chosen automatically)")
  })

  it("estimates a single-connection GET of 90 MB at 90 MB/s as about a second per strategy run", () => {
    const model = { ...S3Model.lambdaDefaults, latencyMs: 0 }
    // baseline 1 s, four others at 1 s each (N = 1), plus the start of five processes.
    expect(estimateSeconds({ sizes: [90e6], chunks: [1], repeat: 1 }, model)).toBeCloseTo(5 + 2.5)
  })
})
