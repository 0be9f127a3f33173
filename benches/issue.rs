//! `cargo bench`: badges issued per second beside the raw signature rate, per algorithm.

use std::time::Duration;

fn main() {
    println!(
        "{:<6} {:>14} {:>16} {:>8}",
        "alg", "raw signs/s", "badges/s", "ratio"
    );
    for alg in accolade::jose::Algorithm::ALL {
        match accolade::bench::run(alg, Duration::from_secs(2)) {
            Ok(r) => println!(
                "{:<6} {:>14.0} {:>16.0} {:>8.2}",
                r.alg.name(),
                r.raw_signs_per_sec,
                r.badges_per_sec,
                r.ratio()
            ),
            Err(e) => eprintln!("{alg}: {e}"),
        }
    }
}
