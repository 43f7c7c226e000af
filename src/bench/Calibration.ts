/**
 * How much the S3 model must be slowed down for this machine: what the model asks of it at the
 * largest N, the factor that keeps that within half of what the machine moved with the model
 * off, the sentence that says so, and how long a bench will take under the model as run.
 */
import type { ModelSettings } from "./S3Model.js"

export interface Calibration {
  /** The best throughput of raw ranged GETs through the server and the proxy with the model off. */
  readonly capacityMBps: number
  /** What the model asks of the machine at the largest N: min(total, N x per connection). */
  readonly demandMBps: number
  readonly scale: number
  readonly automatic: boolean
}

/** The model's demand may use at most this share of what the machine moved with the model off. */
export const HEADROOM = 0.5

/**
 * The slow-down factor that keeps the model's demand (`demandMBps`) within `HEADROOM` of the
 * measured capacity: 1 when the machine keeps up, otherwise rounded up to a tenth.
 */
export const autoScale = (demandMBps: number, capacityMBps: number): number => {
  if (!Number.isFinite(demandMBps) || demandMBps <= 0 || capacityMBps <= 0) return 1
  const factor = demandMBps / (capacityMBps * HEADROOM)
  return factor <= 1 ? 1 : Math.ceil(factor * 10) / 10
}

/** What the model asks of the machine with `chunks` connections at once. */
export const demand = (model: ModelSettings, chunks: number) => Math.min(model.totalMBps, chunks * model.connMBps)

/** What starting one measurement's process costs, roughly, in seconds. */
const CHILD_START = 0.5

/**
 * A rough duration of every measurement under `model`, in seconds, from bandwidths and
 * round trips alone (the strategies need 1, 2, 4, 1 and 1 round trips before their bodies).
 */
export const estimateSeconds = (
  options: { readonly sizes: ReadonlyArray<number>; readonly chunks: ReadonlyArray<number>; readonly repeat: number },
  model: ModelSettings
): number => {
  const latency = model.latencyMs / 1000
  let total = 0
  for (const size of options.sizes) {
    for (const chunks of options.chunks) {
      const one = size / 1e6 / model.connMBps
      const many = size / 1e6 / Math.min(model.totalMBps, chunks * model.connMBps)
      total += one + 4 * many + 9 * latency + 5 * CHILD_START
    }
  }
  return total * options.repeat
}

/** The sentence that says whether and how the model was slowed down. */
export const scaleNote = (calibration: Calibration): string => {
  const measured = `The machine moved ${Math.round(calibration.capacityMBps)} MB/s through s3rver and the proxy with the model off; ` +
    `the model asks for up to ${Math.round(calibration.demandMBps)} MB/s.`
  if (calibration.scale === 1) return `${measured} No slow-down: the model runs at its own speed.`
  return `${measured} Every bandwidth and request rate is divided, and every latency multiplied, by ` +
    `${calibration.scale}${calibration.automatic ? " (chosen automatically)" : " (--scale)"}: absolute times are ${calibration.scale} times ` +
    `those of the model, while speed-ups and ratios to ideal keep their meaning.`
}
