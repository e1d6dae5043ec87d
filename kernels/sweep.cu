// One sweep of one conflict-free update class. Every member site, in every replica, has
// probability q (the candidate probability) of being a candidate; a candidate executes the first
// channel whose cumulative conditional threshold exceeds a 64-bit number u, or nothing (a null
// event). A channel's conditional threshold is floor(k / R_max * 2^64), with q = R_max * tau, so
// its probability per sweep is k * tau, resolved to 2^-64 of q: rates many orders below the
// fastest are not lost. Channels are enumerated in the order of the exact solver (events of the
// site's species in compiled order; for two-site events, neighbours in table order).
//
// Candidates are found by skipping, not by testing every site. The class's member list is cut
// into domains of `domain_size` consecutive members (one work item per domain and replica); the
// gaps between candidates are geometric with parameter q, drawn from a 32-bit number by a search
// in `gap_table` (gap_table[m] = floor((1 - q)^(m+1) * 2^32), decreasing, domain_size long).
// Random words, keyed by the replica: the first gap of domain d is word d mod 4 of the block
// (step, d / 4, KMC_STREAM_SWEEP_START); candidate j of domain d uses the block (step, d,
// KMC_STREAM_SWEEP + 256 j): words x, y give u and word z the gap to the next candidate. So a sweep costs about
// q + 1 / (4 domain_size) Philox blocks per site instead of one, and gives the same distribution
// as testing every site.
//
// Reads: neighbours, site types, thresholds and the occupation within the mechanism's interaction
// range of each candidate. Writes: the candidate and at most one neighbour. Members of one class
// are far enough apart that no two work items touch the same site, so the result does not depend
// on the order or concurrency of the work items. Only integers are compared.
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

// Members skipped before the next candidate: how many leading entries of the decreasing table
// (its length a power of two) exceed z, so that P(gap >= g) = gap_table[g - 1] / 2^32 =
// (1 - q)^g. Halvings without branches, then the last entry.
KMC_DEVICE int32_t kmc_gap(uint32_t z, const uint32_t* KMC_RESTRICT gap_table, int32_t gap_len)
{
    int32_t g = 0;
    for (int32_t step = gap_len >> 1; step > 0; step >>= 1) {
        g += (z < gap_table[g + step - 1]) ? step : 0;
    }
    return g + ((z < gap_table[g]) ? 1 : 0);
}

KMC_KERNEL void sweep_class(
    const int32_t* KMC_RESTRICT members, int64_t n_members,             // this class's sites
    int64_t first_domain, int32_t domain_size, int64_t n_replicas,
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
    const uint32_t* KMC_RESTRICT gap_table, int32_t gap_len,
    uint64_t* KMC_RESTRICT event_counts, int32_t n_events,              // [replica][event]
    const uint32_t* KMC_RESTRICT key0, const uint32_t* KMC_RESTRICT key1,   // [replica]
    uint32_t step_lo, uint32_t step_hi)
{
    const int64_t n_domains = (n_members + domain_size - 1) / domain_size;
    const int64_t work = n_domains * n_replicas;
    for (int64_t it = KMC_GLOBAL_ID; it < work; it += KMC_GLOBAL_SIZE) {
        const int64_t w = KMC_WORK_ITEM(it, work);
        const int64_t r = w / n_domains;
        const int64_t k = w - r * n_domains;
        const uint32_t d = (uint32_t)(first_domain + k);
        const int32_t* dom = members + k * domain_size;
        const int64_t left = n_members - k * domain_size;
        const int32_t len = left < domain_size ? (int32_t)left : domain_size;
        uint8_t* o = occupation + r * n_sites;
        const kmc_u32x4 start = kmc_philox4x32_10(step_lo, step_hi, d >> 2,
                                                  KMC_STREAM_SWEEP_START, key0[r], key1[r]);
        const uint32_t z0 = (d & 2u) ? ((d & 1u) ? start.w : start.z)
                                     : ((d & 1u) ? start.y : start.x);
        int32_t pos = kmc_gap(z0, gap_table, gap_len);
        for (uint32_t j = 0; pos < len; ++j) {
            const int32_t i = dom[pos];
            const int32_t* nb = neighbours + (int64_t)i * degree;
            const uint32_t s = o[i];
            const kmc_u32x4 rnd = kmc_philox4x32_10(step_lo, step_hi, d,
                                                    KMC_STREAM_SWEEP + (j << 8), key0[r], key1[r]);
            const uint64_t u = ((uint64_t)rnd.x << 32) | (uint64_t)rnd.y;
            uint64_t acc = 0;  // cumulative threshold: at most 2^64 (1 - 2^-40), no wrap
            int32_t chosen = -1, partner = -1;
            for (int32_t m = event_offset[s]; m < event_offset[s + 1] && chosen < 0; ++m) {
                const int32_t e = event_order[m];
                if (footprint[e] > 0 && kmc_blocked(i, footprint[e], block_mask[e], o, near,
                                                    near_width, near_count, near_count_width)) {
                    continue;
                }
                int32_t n = 0;
                const uint64_t cm = count_mask[e];
                if (cm) {
                    for (int32_t c = 0; c < degree; ++c) n += (int32_t)((cm >> o[nb[c]]) & 1ull);
                }
                const uint64_t t = thresholds[((int64_t)e * n_types + site_type[i]) * (degree + 1)
                                              + n];
                if (t == 0) continue;
                if (event_sites[e] == 1) {
                    acc += t;
                    if (u < acc) chosen = e;
                } else {
                    const int32_t sj = site_in[2 * e + 1];
                    for (int32_t c = 0; c < degree; ++c) {
                        if (o[nb[c]] != sj) continue;
                        acc += t;
                        if (u < acc) {
                            chosen = e;
                            partner = nb[c];
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
            pos += 1 + kmc_gap(rnd.z, gap_table, gap_len);
        }
    }
}
