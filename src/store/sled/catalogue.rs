//! The catalogue and image repositories.
//!
//! - `catalogue`, by one-byte prefix: `t` badge type id → [`BadgeType`] (JSON);
//!   `p` achievement uuid (16 bytes) → [`Placement`] (JSON); `v` award uuid (16 bytes)
//!   → one byte, `p` public or `h` hidden.
//! - `images`: lower-case hex SHA-256 → format (`p` PNG, `s` SVG), width and height
//!   (u32 big-endian each), then the bytes.

use async_trait::async_trait;
use uuid::Uuid;

use super::{SledStore, from_json, json, prefixed, uuid_value};
use crate::images::ImageFormat;
use crate::records::{BadgeType, Placement, StoredImage, Visibility};
use crate::store::{Catalogue, Error, Images};

pub(super) const TYPE: u8 = b't';
pub(super) const PLACEMENT: u8 = b'p';
pub(super) const VISIBILITY: u8 = b'v';

#[async_trait]
impl Catalogue for SledStore {
    async fn badge_types(&self) -> Result<Vec<BadgeType>, Error> {
        let mut out = self
            .catalogue
            .scan_prefix([TYPE])
            .values()
            .map(|v| from_json::<BadgeType>("badge type", &v?))
            .collect::<Result<Vec<_>, _>>()?;
        out.sort_by(|a, b| a.order.cmp(&b.order).then_with(|| a.name.cmp(&b.name)));
        Ok(out)
    }

    async fn badge_type(&self, id: &str) -> Result<Option<BadgeType>, Error> {
        self.catalogue
            .get(prefixed(TYPE, id.as_bytes()))?
            .map(|v| from_json("badge type", &v))
            .transpose()
    }

    async fn put_badge_type(&self, t: &BadgeType) -> Result<(), Error> {
        self.catalogue
            .insert(prefixed(TYPE, t.id.as_bytes()), json("badge type", t)?)?;
        Ok(())
    }

    async fn remove_badge_type(&self, id: &str) -> Result<bool, Error> {
        Ok(self
            .catalogue
            .remove(prefixed(TYPE, id.as_bytes()))?
            .is_some())
    }

    async fn placements(&self) -> Result<Vec<(Uuid, Placement)>, Error> {
        self.catalogue
            .scan_prefix([PLACEMENT])
            .map(|kv| {
                let (k, v) = kv?;
                Ok((
                    uuid_value("placement key", &k[1..])?,
                    from_json("placement", &v)?,
                ))
            })
            .collect()
    }

    async fn placement(&self, achievement: Uuid) -> Result<Option<Placement>, Error> {
        self.catalogue
            .get(prefixed(PLACEMENT, achievement.as_bytes()))?
            .map(|v| from_json("placement", &v))
            .transpose()
    }

    async fn put_placement(&self, achievement: Uuid, p: &Placement) -> Result<(), Error> {
        self.catalogue.insert(
            prefixed(PLACEMENT, achievement.as_bytes()),
            json("placement", p)?,
        )?;
        Ok(())
    }

    async fn visibility(&self, award: Uuid) -> Result<Option<Visibility>, Error> {
        match self
            .catalogue
            .get(prefixed(VISIBILITY, award.as_bytes()))?
            .as_deref()
        {
            None => Ok(None),
            Some(b"p") => Ok(Some(Visibility::Public)),
            Some(b"h") => Ok(Some(Visibility::Hidden)),
            Some(_) => Err(Error::Corrupt(
                format!("visibility of {award}"),
                "unknown tag".into(),
            )),
        }
    }

    async fn set_visibility(&self, award: Uuid, v: Visibility) -> Result<(), Error> {
        let tag: &[u8] = match v {
            Visibility::Public => b"p",
            Visibility::Hidden => b"h",
        };
        self.catalogue
            .insert(prefixed(VISIBILITY, award.as_bytes()), tag)?;
        Ok(())
    }
}

fn encode_image(img: &StoredImage) -> Vec<u8> {
    let mut v = Vec::with_capacity(9 + img.bytes.len());
    v.push(match img.format {
        ImageFormat::Png => b'p',
        ImageFormat::Svg => b's',
    });
    v.extend_from_slice(&img.width.to_be_bytes());
    v.extend_from_slice(&img.height.to_be_bytes());
    v.extend_from_slice(&img.bytes);
    v
}

fn decode_image(digest: &str, v: &[u8]) -> Result<StoredImage, Error> {
    let corrupt = || Error::Corrupt(format!("image {digest}"), "truncated or unknown".into());
    let format = match v.first() {
        Some(b'p') => ImageFormat::Png,
        Some(b's') => ImageFormat::Svg,
        _ => return Err(corrupt()),
    };
    let word = |at: usize| -> Result<u32, Error> {
        Ok(u32::from_be_bytes(
            v.get(at..at + 4)
                .and_then(|b| b.try_into().ok())
                .ok_or_else(corrupt)?,
        ))
    };
    Ok(StoredImage {
        digest: digest.to_owned(),
        format,
        width: word(1)?,
        height: word(5)?,
        bytes: v.get(9..).ok_or_else(corrupt)?.to_vec(),
    })
}

#[async_trait]
impl Images for SledStore {
    async fn put_image(&self, image: &StoredImage) -> Result<(), Error> {
        // Content-addressed: the same digest is the same bytes, so a second put of
        // one image changes nothing.
        let _ = self.images.compare_and_swap(
            image.digest.as_bytes(),
            None as Option<&[u8]>,
            Some(encode_image(image)),
        )?;
        Ok(())
    }

    async fn image(&self, digest: &str) -> Result<Option<StoredImage>, Error> {
        self.images
            .get(digest.as_bytes())?
            .map(|v| decode_image(digest, &v))
            .transpose()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_image_record_round_trips() {
        let img = StoredImage {
            digest: "ab".repeat(32),
            format: ImageFormat::Svg,
            width: 600,
            height: 400,
            bytes: b"<svg/>".to_vec(),
        };
        assert_eq!(
            decode_image(&img.digest, &encode_image(&img)).expect("decodes"),
            img
        );
        assert!(decode_image("x", b"p\0\0").is_err());
    }
}
