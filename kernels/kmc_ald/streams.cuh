// Random-number stream ids: the fourth Philox counter word. One table for the whole project,
// mirrored in kmc_ald/engine/rng.py (a unit test checks that the two agree).
#pragma once
#define KMC_STREAM_EXACT 1u
#define KMC_STREAM_SWEEP 2u
