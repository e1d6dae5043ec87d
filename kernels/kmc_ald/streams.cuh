// Random-number stream ids: the fourth Philox counter word. One table for the whole project,
// mirrored in kmc_ald/engine/rng.py (a unit test checks that the two agree). The parallel
// sweep's candidate stream counts its draws in the bits above the low byte (id + 256 j).
#pragma once
#define KMC_STREAM_EXACT 1u
#define KMC_STREAM_SWEEP 2u
#define KMC_STREAM_SWEEP_START 3u
