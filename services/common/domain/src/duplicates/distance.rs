//! Distance between two reported positions, on the sphere (R8.2c).

use crate::validation::Coordinates;

/// Mean Earth radius in metres (IUGG); the sphere is within 0.5% of WGS 84 everywhere,
/// far better than a phone's position, and the radius of a duplicate search is a judgement.
pub const EARTH_RADIUS_M: f64 = 6_371_008.8;

/// Great-circle distance in metres by the haversine formula: symmetric, zero from a point
/// to itself, and accurate at the short distances a duplicate search looks at.
pub fn distance_m(a: &Coordinates, b: &Coordinates) -> f64 {
    let (lat_a, lat_b) = (a.latitude().to_radians(), b.latitude().to_radians());
    let half_dlat = (b.latitude() - a.latitude()).to_radians() / 2.0;
    let half_dlon = (b.longitude() - a.longitude()).to_radians() / 2.0;
    let h = half_dlat.sin().powi(2) + lat_a.cos() * lat_b.cos() * half_dlon.sin().powi(2);
    // Rounding can push h a hair above 1 for antipodes; Vietnam has none, but stay defined.
    2.0 * EARTH_RADIUS_M * h.sqrt().min(1.0).asin()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(latitude: f64, longitude: f64) -> Coordinates {
        Coordinates::new(latitude, longitude).unwrap()
    }

    // Proves R8.2c: distances match known values.
    #[test]
    fn distances_match_known_values_r8_2c() {
        // One thousandth of a degree of latitude is about 111 m anywhere.
        let d = distance_m(&at(10.2537, 105.9722), &at(10.2547, 105.9722));
        assert!((d - 111.2).abs() < 0.5, "{d}");
        // Hà Nội (Hoàn Kiếm lake) to Hồ Chí Minh City (Bến Thành): about 1,144 km in a straight line.
        let d = distance_m(&at(21.0287, 105.8524), &at(10.7725, 106.6980));
        assert!((d - 1_144_000.0).abs() < 2_000.0, "{d}");
        let p = at(16.0544, 108.2022);
        assert_eq!(distance_m(&p, &p), 0.0);
    }
}
