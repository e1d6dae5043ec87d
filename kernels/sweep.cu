// One sweep of one conflict-free update class: every member site, in every replica, makes one
// attempt. With u a 64-bit number from one Philox block keyed by (step, site, stream) and the
// replica's key, the site executes the first channel whose cumulative threshold exceeds u, or
// nothing (a null event). A channel's threshold is floor(k * tau * 2^64): its probability per
// sweep is k * tau, resolved to 2^-64, so rates many orders below the fastest are not lost.
// Channels are enumerated in the order of the exact solver (events of the site's species in
// compiled order; for two-site events, neighbours in table order).
//
// Reads: neighbours, site types, thresholds and the occupation within the mechanism's interaction
// range of each member. Writes: the member and at most one neighbour. Members of one class are
// far enough apart that no two work items touch the same site, so the result does not depend on
// the order or concurrency of the work items. Only integers are compared.
#include "kmc_ald/philox.cuh"
#include "kmc_ald/streams.cuh"

KMC_DEVICE bool kmc_blocked(int32_t i, int32_t f, uint64_t mask, const uint8_t* o,
                            const int32_t* KMC_RESTRICT near, int32_t near_width,
                            const int32_t* KMC_RESTRICT near_count, int32_t near_count_width)
{
    const int32_t n = near_count[(int64_t)i * near_count_width + f];
    for (int32_t m = 0; m < n; ++m) {
        if ((mask >> o[near[(int64_t)i * near_width + m]]) & 1ull) return true;
    }
    return false;
}

KMC_KERNEL void sweep_class(
    const int32_t* KMC_RESTRICT members, int64_t n_members, int64_t n_replicas,
    uint8_t* KMC_RESTRICT occupation, int64_t n_sites,                  // [replica][site]
    const uint8_t* KMC_RESTRICT site_type,                              // [site]
    const int32_t* KMC_RESTRICT neighbours, int32_t degree,             // [site][degree]
    const int32_t* KMC_RESTRICT near, int32_t near_width,               // [site][near_width]
    const int32_t* KMC_RESTRICT near_count, int32_t near_count_width,   // [site][footprint + 1]
    const int32_t* KMC_RESTRICT event_order, const int32_t* KMC_RESTRICT event_offset,
    const int32_t* KMC_RESTRICT event_sites,                            // [event]: 1 or 2
    const int32_t* KMC_RESTRICT site_in, const int32_t* KMC_RESTRICT site_out,  // [event][2]
    const uint64_t* KMC_RESTRICT count_mask, const int32_t* KMC_RESTRICT footprint,
    const uint64_t* KMC_RESTRICT block_mask,
    const uint64_t* KMC_RESTRICT thresholds, int32_t n_types,           // [event][type][degree+1]
    uint64_t* KMC_RESTRICT event_counts, int32_t n_events,              // [replica][event]
    const uint32_t* KMC_RESTRICT key0, const uint32_t* KMC_RESTRICT key1,   // [replica]
    uint32_t step_lo, uint32_t step_hi)
{
    const int64_t work = n_members * n_replicas;
    for (int64_t w = KMC_GLOBAL_ID; w < work; w += KMC_GLOBAL_SIZE) {
        const int64_t r = w / n_members;
        const int32_t i = members[w - r * n_members];
        uint8_t* o = occupation + r * n_sites;
        const int32_t* nb = neighbours + (int64_t)i * degree;
        const uint32_t s = o[i];
        const kmc_u32x4 rnd = kmc_philox4x32_10(step_lo, step_hi, (uint32_t)i, KMC_STREAM_SWEEP,
                                                key0[r], key1[r]);
        const uint64_t u = ((uint64_t)rnd.x << 32) | (uint64_t)rnd.y;
        uint64_t acc = 0;  // cumulative threshold: at most step_probability * 2^64, no wrap
        int32_t chosen = -1, partner = -1;
        for (int32_t k = event_offset[s]; k < event_offset[s + 1] && chosen < 0; ++k) {
            const int32_t e = event_order[k];
            if (footprint[e] > 0 && kmc_blocked(i, footprint[e], block_mask[e], o, near,
                                                near_width, near_count, near_count_width)) {
                continue;
            }
            int32_t n = 0;
            const uint64_t cm = count_mask[e];
            if (cm) {
                for (int32_t d = 0; d < degree; ++d) n += (int32_t)((cm >> o[nb[d]]) & 1ull);
            }
            const uint64_t t = thresholds[((int64_t)e * n_types + site_type[i]) * (degree + 1) + n];
            if (t == 0) continue;
            if (event_sites[e] == 1) {
                acc += t;
                if (u < acc) chosen = e;
            } else {
                const int32_t sj = site_in[2 * e + 1];
                for (int32_t d = 0; d < degree; ++d) {
                    if (o[nb[d]] != sj) continue;
                    acc += t;
                    if (u < acc) {
                        chosen = e;
                        partner = nb[d];
                        break;
                    }
                }
            }
        }
        if (chosen >= 0) {
            o[i] = (uint8_t)site_out[2 * chosen];
            if (partner >= 0) o[partner] = (uint8_t)site_out[2 * chosen + 1];
            KMC_ATOMIC_ADD_U64(&event_counts[r * n_events + chosen], 1ull);
        }
    }
}
