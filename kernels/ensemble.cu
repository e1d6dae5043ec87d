// The ensemble solver on a GPU: one work item per replica runs the exact solver's rejection-free
// algorithm (kmc_ald/engine/bkl.py) on its own surface. Every function below is the twin of the
// numba function of the same name there, with the same floating-point operations in the same
// order (no FMA contraction) and the same Philox counting, so replica r equals the serial exact
// solver run alone with its seed, bit for bit: occupation, event counts, clock and draw counter.
//
// Per replica r: occupation[r][site], event_counts[r][event], clock[r], counter[r], key0/1[r],
// point[r] (the parameter point: rate[point][event][site type][bond count]), the 8-ary sum tree
// tree[r][node], and cluster-walk scratch (mark, stamp, cluster, carried). Shared: the lattice,
// event and migration tables. Each work item writes only its own replica's rows.
#include "kmc_ald/philox.cuh"
#include "kmc_ald/streams.cuh"

#define KMC_ARITY 8
#define KMC_DONE 0
#define KMC_MORE 1
#define KMC_BROKEN 2  // a drawn site offered no open channel (a bug)

// The read-only tables of one model (kmc_ald.engine.bkl.Problem), as pointers and widths.
struct kmc_tables {
    const uint8_t* site_type;
    const int32_t* neighbours; int32_t degree;
    const int32_t* bond_neighbours; int32_t n_nearest;
    const int32_t* near; int32_t near_width;
    const int32_t* near_count; int32_t near_count_width;
    const int32_t* support; int32_t support_width;
    const int32_t* supported; int32_t supported_width;
    const int32_t* event_order; const int32_t* event_offset; const int32_t* event_sites;
    const int32_t* site_in; const int32_t* site_out;
    const uint64_t* count_mask; const int32_t* footprint; const uint64_t* block_mask;
    uint64_t solid;
    const double* rate; int32_t n_types;  // this replica's point: [event][type][n_nearest + 1]
    const int32_t* reach_radius; int32_t reach_depends;
    const uint64_t* reach_reads; int32_t reach_reads_width;  // [species][hops]: species read
    const uint8_t* migrating; uint64_t members; const double* accept; int32_t max_size;
    const int32_t* translations; int32_t n_translations; const uint8_t* pinned;
    int64_t n_sites;
    const int32_t* partner_shell; const uint8_t* partner_ok;  // [event], [event][type]
};

// One replica's surface and work space.
struct kmc_surface {
    uint8_t* occ;
    double* tree; int64_t first_leaf;
    int64_t* mark; int64_t* stamp; int64_t* cluster; uint8_t* carried;
};

KMC_DEVICE bool blocked(const kmc_tables& t, int64_t i, int32_t f, uint64_t mask, const uint8_t* occ)
{
    const int32_t n = t.near_count[i * t.near_count_width + f];
    for (int32_t m = 0; m < n; ++m) {
        if ((mask >> occ[t.near[i * t.near_width + m]]) & 1ull) return true;
    }
    return false;
}

KMC_DEVICE int64_t bond_count(const kmc_tables& t, int64_t i, uint64_t mask, const uint8_t* occ)
{
    int64_t n = 0;
    if (mask != 0ull) {
        for (int32_t d = 0; d < t.n_nearest; ++d) {
            const int32_t j = t.bond_neighbours[i * t.n_nearest + d];
            if (j >= 0) n += (int64_t)((mask >> occ[j]) & 1ull);
        }
    }
    return n;
}

KMC_DEVICE bool stays_stacked(const kmc_tables& t, int64_t i, int32_t si, int64_t j, int32_t sj,
                              const uint8_t* occ)
{
    if (t.support_width == 0) return true;
    for (int c = 0; c < 2; ++c) {
        const int64_t x = c == 0 ? i : j;
        if (x < 0) break;
        const int32_t s = c == 0 ? si : sj;
        if (s != 0) {
            for (int32_t m = 0; m < t.support_width; ++m) {
                const int32_t b = t.support[x * t.support_width + m];
                if (b < 0) break;
                const int32_t sb = b == i ? si : (b == j ? sj : (int32_t)occ[b]);
                if (!((t.solid >> sb) & 1ull)) return false;
            }
        }
        if (!((t.solid >> s) & 1ull)) {
            for (int32_t m = 0; m < t.supported_width; ++m) {
                const int32_t a = t.supported[x * t.supported_width + m];
                if (a < 0) continue;
                const int32_t sa = a == i ? si : (a == j ? sj : (int32_t)occ[a]);
                if (sa != 0) return false;
            }
        }
    }
    return true;
}

KMC_DEVICE bool pairs_with(const kmc_tables& t, int64_t i, int32_t e, int64_t j, int32_t sj,
                           const uint8_t* occ)
{
    return j >= 0 && occ[j] == sj && t.partner_ok[(int64_t)e * t.n_types + t.site_type[j]] != 0
           && stays_stacked(t, i, t.site_out[2 * e], j, t.site_out[2 * e + 1], occ);
}

// The partner slots [*lo, *hi) of two-site event e at site i: its neighbour list for the first
// shell, else its row of the near table at the shell's hop distance.
KMC_DEVICE void slots(const kmc_tables& t, int64_t i, int32_t e, int32_t* lo, int32_t* hi)
{
    const int32_t s = t.partner_shell[e];
    if (s == 1) {
        *lo = 0;
        *hi = t.degree;
    } else {
        *lo = t.near_count[i * t.near_count_width + s - 1];
        *hi = t.near_count[i * t.near_count_width + s];
    }
}

KMC_DEVICE int64_t partner(const kmc_tables& t, int64_t i, int32_t e, int32_t d)
{
    if (t.partner_shell[e] == 1) return t.neighbours[i * t.degree + d];
    return t.near[i * t.near_width + d];
}

KMC_DEVICE double open_rate(const kmc_tables& t, int64_t i, int32_t e, const uint8_t* occ)
{
    // the footprint is scanned last: a rate of 0 from the phase or the bond window needs none
    const int64_t n = bond_count(t, i, t.count_mask[e], occ);
    const double r = t.rate[((int64_t)e * t.n_types + t.site_type[i]) * (t.n_nearest + 1) + n];
    const int32_t f = t.footprint[e];
    if (r != 0.0 && f > 0 && blocked(t, i, f, t.block_mask[e], occ)) return 0.0;
    return r;
}

KMC_DEVICE double site_rate(const kmc_tables& t, int64_t i, const uint8_t* occ)
{
    const int32_t s = occ[i];
    double total = 0.0;
    for (int32_t k = t.event_offset[s]; k < t.event_offset[s + 1]; ++k) {
        const int32_t e = t.event_order[k];
        const double r = open_rate(t, i, e, occ);
        if (r == 0.0) continue;
        if (t.event_sites[e] == 1) {
            if (stays_stacked(t, i, t.site_out[2 * e], -1, 0, occ)) total += r;
        } else {
            const int32_t sj = t.site_in[2 * e + 1];
            int32_t lo, hi;
            slots(t, i, e, &lo, &hi);
            int64_t matches = 0;
            for (int32_t d = lo; d < hi; ++d) {
                if (pairs_with(t, i, e, partner(t, i, e, d), sj, occ)) matches += 1;
            }
            if (matches > 0) total += r * (double)matches;
        }
    }
    return total;
}

// The channel at site i that u in [0, site rate) falls into: event *e and neighbour *j (or -1).
KMC_DEVICE void choose_channel(const kmc_tables& t, int64_t i, double u, const uint8_t* occ,
                               int32_t* e_out, int64_t* j_out)
{
    const int32_t s = occ[i];
    int32_t last_e = -1;
    int64_t last_j = -1;
    for (int32_t k = t.event_offset[s]; k < t.event_offset[s + 1]; ++k) {
        const int32_t e = t.event_order[k];
        const double r = open_rate(t, i, e, occ);
        if (r == 0.0) continue;
        if (t.event_sites[e] == 1) {
            if (!stays_stacked(t, i, t.site_out[2 * e], -1, 0, occ)) continue;
            if (u < r) {
                *e_out = e;
                *j_out = -1;
                return;
            }
            u -= r;
            last_e = e;
            last_j = -1;
        } else {
            const int32_t sj = t.site_in[2 * e + 1];
            int32_t lo, hi;
            slots(t, i, e, &lo, &hi);
            int64_t matches = 0;
            for (int32_t d = lo; d < hi; ++d) {
                if (pairs_with(t, i, e, partner(t, i, e, d), sj, occ)) matches += 1;
            }
            if (matches == 0) continue;
            if (u < r * (double)matches) {
                int64_t pick = (int64_t)(u / r);
                if (pick > matches - 1) pick = matches - 1;
                for (int32_t d = lo; d < hi; ++d) {
                    const int64_t j = partner(t, i, e, d);
                    if (pairs_with(t, i, e, j, sj, occ)) {
                        if (pick == 0) {
                            *e_out = e;
                            *j_out = j;
                            return;
                        }
                        pick -= 1;
                    }
                }
            }
            u -= r * (double)matches;
            for (int32_t d = hi - 1; d >= lo; --d) {
                const int64_t j = partner(t, i, e, d);
                if (pairs_with(t, i, e, j, sj, occ)) {
                    last_e = e;
                    last_j = j;
                    break;
                }
            }
        }
    }
    *e_out = last_e;
    *j_out = last_j;
}

KMC_DEVICE double node_sum(const double* values, int64_t k)
{
    const int64_t c = KMC_ARITY * k + 1;
    double acc = 0.0;
    for (int m = 0; m < KMC_ARITY; ++m) acc += values[c + m];
    return acc;
}

KMC_DEVICE void tree_set(kmc_surface& w, int64_t i, double value)
{
    int64_t k = w.first_leaf + i;
    w.tree[k] = value;
    while (k > 0) {
        k = (k - 1) / KMC_ARITY;
        w.tree[k] = node_sum(w.tree, k);
    }
}

// Hops around site k (0: i, 1: j) of event e whose rates its change can touch: the larger
// radius of the species the site loses and gains (0 when no other site's events look at them).
KMC_DEVICE int32_t change_radius(const kmc_tables& t, int32_t e, int32_t k)
{
    const int32_t a = t.reach_radius[t.site_in[2 * e + k]];
    const int32_t b = t.reach_radius[t.site_out[2 * e + k]];
    return a > b ? a : b;
}

// The species bits of site k's change (0: i, 1: j) in event e.
KMC_DEVICE uint64_t change_bits(const kmc_tables& t, int32_t e, int32_t k)
{
    return (1ull << t.site_in[2 * e + k]) | (1ull << t.site_out[2 * e + k]);
}

// Recompute the rates a change at x (changed: the bits of the species it lost and gained) can
// have changed: x's, and those of the sites within r hops that read one of them at their
// distance from x (kmc_ald.engine.bkl._refresh).
KMC_DEVICE void refresh(const kmc_tables& t, kmc_surface& w, int64_t x, int32_t r,
                        uint64_t changed)
{
    const int32_t* count = t.near_count + x * t.near_count_width;
    int32_t d = 1;
    for (int32_t m = -1; m < count[r]; ++m) {
        int64_t y = x;
        if (m >= 0) {
            while (m >= count[d]) ++d;
            y = (int64_t)t.near[x * t.near_width + m];
            if (y < 0 || !(t.reach_reads[(int64_t)w.occ[y] * t.reach_reads_width + d] & changed)) {
                continue;
            }
        }
        const double v = site_rate(t, y, w.occ);
        if (v != w.tree[w.first_leaf + y]) tree_set(w, y, v);
    }
}

// Breadth-first walk of the cluster of site i; *size gets its member atoms (it stops past
// max_size). Returns the number of sites in w.cluster.
KMC_DEVICE int64_t collect_cluster(const kmc_tables& t, kmc_surface& w, int64_t i, int64_t* size)
{
    const int64_t stamp = w.stamp[0];
    w.cluster[0] = i;
    w.mark[i] = stamp;
    int64_t n = 1, head = 0;
    *size = 0;
    while (head < n) {
        const int64_t x = w.cluster[head];
        head += 1;
        if ((t.members >> w.occ[x]) & 1ull) {
            *size += 1;
            if (*size > t.max_size) return n;
            for (int32_t d = 0; d < t.n_nearest; ++d) {
                const int32_t y = t.bond_neighbours[x * t.n_nearest + d];
                if (y >= 0 && w.mark[y] != stamp && ((t.members >> w.occ[y]) & 1ull)) {
                    w.mark[y] = stamp;
                    w.cluster[n] = y;
                    n += 1;
                }
            }
        }
        for (int32_t d = 0; d < t.supported_width; ++d) {
            const int32_t y = t.supported[x * t.supported_width + d];
            if (y >= 0 && w.mark[y] != stamp && w.occ[y] != 0) {
                w.mark[y] = stamp;
                w.cluster[n] = y;
                n += 1;
            }
        }
    }
    return n;
}

KMC_DEVICE bool translate(const kmc_tables& t, kmc_surface& w, int64_t n, const int32_t* shift)
{
    const int64_t stamp = w.stamp[0];
    for (int64_t m = 0; m < n; ++m) {
        const int64_t x = w.cluster[m];
        if (t.pinned[t.site_type[x]] || (w.occ[shift[x]] != 0 && w.mark[shift[x]] != stamp)) {
            return false;
        }
        for (int32_t c = 0; c < t.support_width; ++c) {
            const int32_t b = t.support[x * t.support_width + c];
            if (b >= 0 && w.mark[b] != stamp) return false;
        }
    }
    for (int64_t m = 0; m < n; ++m) {
        w.carried[m] = w.occ[w.cluster[m]];
        w.occ[w.cluster[m]] = 0;
    }
    for (int64_t m = 0; m < n; ++m) w.occ[shift[w.cluster[m]]] = w.carried[m];
    return true;
}

// kmc_ald.engine.bkl.advance_surface for one replica; returns the status.
KMC_DEVICE int32_t advance_surface(const kmc_tables& t, kmc_surface& w, int64_t* counts,
                                   double* clock, int64_t* counter, uint32_t k0, uint32_t k1,
                                   double t_stop, bool end_of_phase, int64_t max_events,
                                   int64_t* executed_out, int64_t* rejected_out)
{
    double* values = w.tree;
    const int64_t first_leaf = w.first_leaf;
    int64_t executed = 0, rejected = 0;
    int32_t status = KMC_MORE;
    while (executed < max_events && rejected < max_events) {
        const double total = values[0];
        if (!(total > 0.0)) {
            if (end_of_phase) *clock = t_stop;
            status = KMC_DONE;
            break;
        }
        const uint64_t c = (uint64_t)*counter;
        const kmc_u32x4 x = kmc_philox4x32_10((uint32_t)c, (uint32_t)(c >> 32), 0u,
                                              KMC_STREAM_EXACT, k0, k1);
        const double dt = kmc_exponential(x.z, x.w) / total;
        if (*clock + dt > t_stop) {
            if (end_of_phase) {
                *counter += 1;
                *clock = t_stop;
            }
            status = KMC_DONE;
            break;
        }
        *counter += 1;
        *clock += dt;
        double u = kmc_unit_interval(x.x, x.y) * total;  // descend; never into a zero subtree
        int64_t k = 0;
        while (k < first_leaf) {
            const int64_t ch = KMC_ARITY * k + 1;
            int32_t chosen = -1, last = 0;
            double u_last = u;
            for (int32_t m = 0; m < KMC_ARITY; ++m) {
                const double v = values[ch + m];
                if (v > 0.0) {
                    last = m;
                    u_last = u;
                    if (u < v) {
                        chosen = m;
                        break;
                    }
                }
                u -= v;
            }
            if (chosen < 0) {  // rounding at the top end: the last child with a positive rate
                chosen = last;
                u = u_last;
            }
            k = ch + chosen;
        }
        const int64_t i = k - first_leaf;
        if (u >= values[k]) {
            u = values[k] * 0.5;
        } else if (u < 0.0) {
            u = 0.0;
        }
        int32_t e;
        int64_t j;
        choose_channel(t, i, u, w.occ, &e, &j);
        if (e < 0) {  // the tree and the channels disagree: stop before any wrong move
            status = KMC_BROKEN;
            break;
        }
        if (t.migrating[e]) {
            const kmc_u32x4 y = kmc_philox4x32_10((uint32_t)(c), (uint32_t)(c >> 32), 1u,
                                                  KMC_STREAM_EXACT, k0, k1);
            w.stamp[0] += 1;
            int64_t size = 0;
            const int64_t n = collect_cluster(t, w, i, &size);
            bool moved = false;
            int64_t d = 0;
            if (size <= t.max_size && kmc_unit_interval(y.x, y.y) < t.accept[size]) {
                d = (int64_t)(kmc_unit_interval(y.z, y.w) * (double)t.n_translations);
                if (d > t.n_translations - 1) d = t.n_translations - 1;
                moved = translate(t, w, n, t.translations + d * t.n_sites);
            }
            if (!moved) {
                rejected += 1;
                continue;
            }
            counts[e] += 1;
            executed += 1;
            const int32_t* shift = t.translations + d * t.n_sites;
            for (int64_t m = 0; m < 2 * n; ++m) {  // the old sites, then the new ones
                refresh(t, w, m < n ? w.cluster[m] : (int64_t)shift[w.cluster[m - n]],
                        t.reach_depends, ~0ull);
            }
            continue;
        }
        w.occ[i] = (uint8_t)t.site_out[2 * e];
        if (j >= 0) w.occ[j] = (uint8_t)t.site_out[2 * e + 1];
        counts[e] += 1;
        executed += 1;
        refresh(t, w, i, change_radius(t, e, 0), change_bits(t, e, 0));
        if (j >= 0) refresh(t, w, j, change_radius(t, e, 1), change_bits(t, e, 1));
    }
    *executed_out = executed;
    *rejected_out = rejected;
    return status;
}

#define KMC_ENSEMBLE_TABLE_PARAMETERS                                                          \
    const uint8_t* KMC_RESTRICT site_type, int64_t n_sites,                                   \
    const int32_t* KMC_RESTRICT neighbours, int32_t degree,                                   \
    const int32_t* KMC_RESTRICT bond_neighbours, int32_t n_nearest,                           \
    const int32_t* KMC_RESTRICT near, int32_t near_width,                                     \
    const int32_t* KMC_RESTRICT near_count, int32_t near_count_width,                         \
    const int32_t* KMC_RESTRICT support, int32_t support_width,                               \
    const int32_t* KMC_RESTRICT supported, int32_t supported_width,                           \
    const int32_t* KMC_RESTRICT event_order, const int32_t* KMC_RESTRICT event_offset,        \
    const int32_t* KMC_RESTRICT event_sites, const int32_t* KMC_RESTRICT site_in,             \
    const int32_t* KMC_RESTRICT site_out, const uint64_t* KMC_RESTRICT count_mask,            \
    const int32_t* KMC_RESTRICT footprint, const uint64_t* KMC_RESTRICT block_mask,           \
    uint64_t solid, const double* KMC_RESTRICT rate, int32_t n_types, int32_t n_events,       \
    const int32_t* KMC_RESTRICT reach_radius, int32_t reach_depends,                          \
    const uint64_t* KMC_RESTRICT reach_reads, int32_t reach_reads_width,                      \
    const uint8_t* KMC_RESTRICT migrating, uint64_t members,                                  \
    const double* KMC_RESTRICT accept, int32_t max_size,                                      \
    const int32_t* KMC_RESTRICT translations, int32_t n_translations,                         \
    const uint8_t* KMC_RESTRICT pinned, const int32_t* KMC_RESTRICT partner_shell,            \
    const uint8_t* KMC_RESTRICT partner_ok

#define KMC_ENSEMBLE_TABLES                                                                    \
    kmc_tables t = {site_type, neighbours, degree, bond_neighbours, n_nearest, near,          \
                    near_width, near_count, near_count_width, support, support_width,         \
                    supported, supported_width, event_order, event_offset, event_sites,       \
                    site_in, site_out, count_mask, footprint, block_mask, solid, rate,        \
                    n_types, reach_radius, reach_depends, reach_reads, reach_reads_width,     \
                    migrating,                                                                \
                    members, accept,                                                          \
                    max_size, translations, n_translations, pinned, n_sites, partner_shell,   \
                    partner_ok};

// The rate table of replica r's point: rate is [point][event][type][n_nearest + 1].
#define KMC_POINT_RATE(r) (rate + (int64_t)point[r] * n_events * n_types * (n_nearest + 1))

// Rebuild every replica's sum tree from its occupation (kmc_ald.engine.bkl.build_tree).
KMC_KERNEL void ensemble_build_trees(
    KMC_ENSEMBLE_TABLE_PARAMETERS,
    int64_t n_replicas, const uint8_t* KMC_RESTRICT occupation,        // [replica][site]
    const int32_t* KMC_RESTRICT point,                                  // [replica]
    double* KMC_RESTRICT tree, int64_t tree_size, int64_t first_leaf)   // [replica][node]
{
    for (int64_t it = KMC_GLOBAL_ID; it < n_replicas; it += KMC_GLOBAL_SIZE) {
        const int64_t r = KMC_WORK_ITEM(it, n_replicas);
        KMC_ENSEMBLE_TABLES
        t.rate = KMC_POINT_RATE(r);
        const uint8_t* occ = occupation + r * n_sites;
        double* values = tree + r * tree_size;
        for (int64_t k = 0; k < tree_size; ++k) values[k] = 0.0;
        for (int64_t i = 0; i < n_sites; ++i) values[first_leaf + i] = site_rate(t, i, occ);
        for (int64_t k = first_leaf - 1; k >= 0; --k) values[k] = node_sum(values, k);
    }
}

// Advance every replica not yet done (done[r] == 0) until its clock would pass t_stop or it has
// run max_events events (or as many rejected migration candidates); kmc_ald.engine.bkl.
KMC_KERNEL void ensemble_advance(
    KMC_ENSEMBLE_TABLE_PARAMETERS,
    int64_t n_replicas, uint8_t* KMC_RESTRICT occupation,               // [replica][site]
    int64_t* KMC_RESTRICT event_counts,                                 // [replica][event]
    double* KMC_RESTRICT clock, int64_t* KMC_RESTRICT counter,          // [replica]
    const uint32_t* KMC_RESTRICT key0, const uint32_t* KMC_RESTRICT key1,
    const int32_t* KMC_RESTRICT point, uint8_t* KMC_RESTRICT done,
    double* KMC_RESTRICT tree, int64_t tree_size, int64_t first_leaf,   // [replica][node]
    int64_t* KMC_RESTRICT mark, int64_t* KMC_RESTRICT stamp,            // [replica][scratch]
    int64_t* KMC_RESTRICT cluster, uint8_t* KMC_RESTRICT carried, int64_t scratch_size,
    double t_stop, int32_t end_of_phase, int64_t max_events,
    int64_t* KMC_RESTRICT executed, int64_t* KMC_RESTRICT rejected)     // [replica], this call
{
    for (int64_t it = KMC_GLOBAL_ID; it < n_replicas; it += KMC_GLOBAL_SIZE) {
        const int64_t r = KMC_WORK_ITEM(it, n_replicas);
        executed[r] = 0;
        rejected[r] = 0;
        if (done[r]) continue;
        KMC_ENSEMBLE_TABLES
        t.rate = KMC_POINT_RATE(r);
        kmc_surface w = {occupation + r * n_sites, tree + r * tree_size, first_leaf,
                         mark + r * scratch_size, stamp + r, cluster + r * scratch_size,
                         carried + r * scratch_size};
        const int32_t status = advance_surface(
            t, w, event_counts + r * n_events, clock + r, counter + r, key0[r], key1[r], t_stop,
            end_of_phase != 0, max_events, executed + r, rejected + r);
        done[r] = status == KMC_DONE ? 1 : (status == KMC_BROKEN ? 2 : 0);
    }
}
