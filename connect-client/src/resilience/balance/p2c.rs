//! Power of two choices over the best-ranked endpoints.

use super::backoff::Rng;

/// Relative cost difference below which two endpoints count as equal.
const TIE: f64 = 0.05;

/// What the picker knows of one endpoint.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Candidate {
    /// `None`: not pickable (backing off after a failure). Otherwise lower
    /// is better: only the endpoints of the lowest rank are compared.
    pub(crate) rank: Option<u8>,
    /// The load (lower is better).
    pub(crate) cost: f64,
}

/// The rank of a pickable endpoint: outlier-ejected endpoints only when
/// every one is; among the rest, ready (a connection open) before
/// connecting; and among those, endpoints an earlier attempt of the call
/// did not use.
pub(crate) fn rank(ejected: bool, ready: bool, avoided: bool) -> u8 {
    (u8::from(ejected) << 2) | (u8::from(!ready) << 1) | u8::from(avoided)
}

/// The index of the chosen candidate: two distinct candidates of the best
/// rank drawn at random, the less loaded one wins (ties: the first drawn).
/// `None` when no candidate is pickable.
pub(crate) fn pick(candidates: &[Candidate], rng: &mut Rng) -> Option<usize> {
    let best = candidates.iter().filter_map(|c| c.rank).min()?;
    let count = candidates.iter().filter(|c| c.rank == Some(best)).count();
    let nth = |n: usize| {
        candidates
            .iter()
            .enumerate()
            .filter(|(_, c)| c.rank == Some(best))
            .nth(n)
            .map(|(i, _)| i)
    };
    if count == 1 {
        return nth(0);
    }
    let a = rng.below(count);
    // A second draw among the others.
    let mut b = rng.below(count - 1);
    if b >= a {
        b += 1;
    }
    let (a, b) = (nth(a)?, nth(b)?);
    // Costs within a few percent are a tie, which the first (random) draw
    // wins: idle endpoints whose estimates differ by noise share calls
    // evenly instead of one winning every comparison it is in.
    Some(if candidates[b].cost < candidates[a].cost * (1.0 - TIE) {
        b
    } else {
        a
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ready(cost: f64) -> Candidate {
        Candidate {
            rank: Some(rank(false, true, false)),
            cost,
        }
    }

    #[test]
    fn the_less_loaded_of_two_wins() {
        let mut rng = Rng::seeded(3);
        let cands = [ready(10.0), ready(1.0)];
        for _ in 0..100 {
            assert_eq!(pick(&cands, &mut rng), Some(1));
        }
    }

    #[test]
    fn near_equal_costs_share_evenly() {
        let mut rng = Rng::seeded(13);
        let cands = [ready(30.0), ready(30.1), ready(29.9)];
        let mut hits = [0; 3];
        for _ in 0..3000 {
            hits[pick(&cands, &mut rng).unwrap()] += 1;
        }
        assert!(hits.iter().all(|h| *h > 800), "{hits:?}");
    }

    #[test]
    fn the_most_loaded_of_many_is_never_picked_and_the_rest_share() {
        let mut rng = Rng::seeded(5);
        let cands = [ready(1.0), ready(2.0), ready(3.0), ready(100.0)];
        let mut hits = [0; 4];
        for _ in 0..3000 {
            hits[pick(&cands, &mut rng).unwrap()] += 1;
        }
        assert_eq!(hits[3], 0, "{hits:?}");
        // p2c: the least loaded wins every pair it is in (half of them).
        assert!(
            hits[0] > hits[1] && hits[1] > hits[2] && hits[2] > 0,
            "{hits:?}"
        );
    }

    #[test]
    fn a_failed_endpoint_is_never_picked_while_another_is_ready() {
        let mut rng = Rng::seeded(9);
        // The failed one looks idle (cost 0): it must not matter.
        let failed = Candidate {
            rank: None,
            cost: 0.0,
        };
        let connecting = Candidate {
            rank: Some(rank(false, false, false)),
            cost: 0.0,
        };
        let cands = [failed, ready(50.0), connecting, ready(60.0)];
        for _ in 0..500 {
            let i = pick(&cands, &mut rng).unwrap();
            assert!(i == 1 || i == 3, "{i}");
        }
        assert_eq!(pick(&[failed, failed], &mut rng), None);
        assert_eq!(pick(&[failed, connecting], &mut rng), Some(1));
    }

    #[test]
    fn ranks_order_ejection_readiness_and_avoidance() {
        // Ready but avoided beats connecting; anything not ejected beats
        // ejected.
        assert!(rank(false, true, true) < rank(false, false, false));
        assert!(rank(false, false, true) < rank(true, true, false));
        let mut rng = Rng::seeded(11);
        let avoided = Candidate {
            rank: Some(rank(false, true, true)),
            cost: 0.0,
        };
        let ejected = Candidate {
            rank: Some(rank(true, true, false)),
            cost: 0.0,
        };
        for _ in 0..100 {
            assert_eq!(pick(&[avoided, ready(9.0), ejected], &mut rng), Some(1));
            assert_eq!(pick(&[avoided, ejected], &mut rng), Some(0));
            assert_eq!(pick(&[ejected], &mut rng), Some(0));
        }
    }
}
