//! Limited-memory BFGS (Nocedal & Wright, algorithm 7.5) with a backtracking Armijo line search:
//! minimises a smooth function to convergence, for the logistic-regression baseline. Written
//! here: argmin (the Rust optimisation crate) pulls in its own `rand` features, which rebuilds
//! burn for every target; this is 80 lines of well-known algorithm.

/// When [`minimise`] stops.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Stop {
    /// The largest gradient component below this.
    pub gradient: f64,
    pub max_iterations: usize,
}

impl Default for Stop {
    fn default() -> Self {
        Self {
            gradient: 1e-6,
            max_iterations: 1000,
        }
    }
}

/// What [`minimise`] found.
#[derive(Clone, Debug, PartialEq)]
pub struct Minimum {
    pub x: Vec<f64>,
    pub cost: f64,
    pub iterations: usize,
    /// Whether the gradient reached [`Stop::gradient`] (else the iterations ran out, or no step
    /// lowered the cost any more).
    pub converged: bool,
}

fn dot(a: &[f64], b: &[f64]) -> f64 {
    a.iter().zip(b).map(|(x, y)| x * y).sum()
}

/// Minimises `f` (returning the cost and its gradient) from `x`, keeping the last 10 steps.
pub fn minimise(mut f: impl FnMut(&[f64]) -> (f64, Vec<f64>), x: Vec<f64>, stop: Stop) -> Minimum {
    const MEMORY: usize = 10;
    let mut x = x;
    let (mut cost, mut gradient) = f(&x);
    let mut history: std::collections::VecDeque<(Vec<f64>, Vec<f64>, f64)> =
        std::collections::VecDeque::with_capacity(MEMORY);
    for iteration in 0..stop.max_iterations {
        let largest = gradient.iter().fold(0.0f64, |m, g| m.max(g.abs()));
        if largest < stop.gradient || !cost.is_finite() {
            return Minimum {
                x,
                cost,
                iterations: iteration,
                converged: cost.is_finite(),
            };
        }
        // Two-loop recursion: direction = −H·g from the stored steps (s, y, 1/yᵀs).
        let mut q = gradient.clone();
        let mut alphas = Vec::with_capacity(history.len());
        for (s, y, rho) in history.iter().rev() {
            let alpha = rho * dot(s, &q);
            q.iter_mut().zip(y).for_each(|(q, y)| *q -= alpha * y);
            alphas.push(alpha);
        }
        let gamma = history
            .back()
            .map_or(1.0 / largest.max(1.0), |(s, y, _)| dot(s, y) / dot(y, y));
        q.iter_mut().for_each(|q| *q *= gamma);
        for ((s, y, rho), alpha) in history.iter().zip(alphas.iter().rev()) {
            let beta = rho * dot(y, &q);
            q.iter_mut()
                .zip(s)
                .for_each(|(q, s)| *q += (alpha - beta) * s);
        }
        let mut direction: Vec<f64> = q.iter().map(|v| -v).collect();
        let mut slope = dot(&gradient, &direction);
        if slope >= 0.0 {
            // Not a descent direction (a bad curvature pair): restart from steepest descent.
            history.clear();
            direction = gradient.iter().map(|g| -g / largest.max(1.0)).collect();
            slope = dot(&gradient, &direction);
        }
        // Backtracking until the cost falls enough (Armijo, c = 1e-4).
        let mut step = 1.0;
        let accepted = loop {
            let trial: Vec<f64> = x
                .iter()
                .zip(&direction)
                .map(|(x, d)| x + step * d)
                .collect();
            let (trial_cost, trial_gradient) = f(&trial);
            if trial_cost.is_finite() && trial_cost <= cost + 1e-4 * step * slope {
                break Some((trial, trial_cost, trial_gradient));
            }
            step *= 0.5;
            if step < 1e-20 {
                break None;
            }
        };
        let Some((next, next_cost, next_gradient)) = accepted else {
            return Minimum {
                x,
                cost,
                iterations: iteration,
                converged: false,
            };
        };
        let s: Vec<f64> = next.iter().zip(&x).map(|(a, b)| a - b).collect();
        let y: Vec<f64> = next_gradient
            .iter()
            .zip(&gradient)
            .map(|(a, b)| a - b)
            .collect();
        let curvature = dot(&s, &y);
        if curvature > 1e-12 * dot(&y, &y).sqrt() * dot(&s, &s).sqrt() {
            if history.len() == MEMORY {
                history.pop_front();
            }
            history.push_back((s, y, 1.0 / curvature));
        }
        (x, cost, gradient) = (next, next_cost, next_gradient);
    }
    Minimum {
        x,
        cost,
        iterations: stop.max_iterations,
        converged: false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_the_minimum_of_the_rosenbrock_valley() {
        let rosenbrock = |p: &[f64]| {
            let (x, y) = (p[0], p[1]);
            let cost = (1.0 - x).powi(2) + 100.0 * (y - x * x).powi(2);
            let gradient = vec![
                -2.0 * (1.0 - x) - 400.0 * x * (y - x * x),
                200.0 * (y - x * x),
            ];
            (cost, gradient)
        };
        let found = minimise(rosenbrock, vec![-1.2, 1.0], Stop::default());
        assert!(found.converged, "{found:?}");
        assert!(
            (found.x[0] - 1.0).abs() < 1e-5 && (found.x[1] - 1.0).abs() < 1e-5,
            "{found:?}"
        );
    }

    #[test]
    fn a_quadratic_converges_in_few_steps() {
        // ½ Σ k·(x_k − k)², k = 1..20: minimum at x_k = k.
        let quadratic = |p: &[f64]| {
            let cost = p
                .iter()
                .enumerate()
                .map(|(k, x)| 0.5 * (k + 1) as f64 * (x - (k + 1) as f64).powi(2))
                .sum();
            let gradient = p
                .iter()
                .enumerate()
                .map(|(k, x)| (k + 1) as f64 * (x - (k + 1) as f64))
                .collect();
            (cost, gradient)
        };
        let found = minimise(quadratic, vec![0.0; 20], Stop::default());
        assert!(found.converged && found.iterations < 60, "{found:?}");
        for (k, x) in found.x.iter().enumerate() {
            assert!((x - (k + 1) as f64).abs() < 1e-5);
        }
    }
}
