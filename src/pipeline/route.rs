//! The one choice of path through the pipeline. A colour JPEG can travel as Y'CbCr planes from
//! decode to encode (`planar`), for about half the work and memory of the RGB path; this module
//! says when that gives the same image as the RGB path would. Anything else takes the RGB path.

use image::metadata::Orientation;

use super::{Header, OutputFormat, color};

/// What the pipeline is making, as far as the choice of path goes.
#[derive(Debug, Clone, Copy)]
pub enum Job {
    /// An upload: always JPEG from an opaque source, turned upright after the resize.
    Upload,
    /// A transform: crops are planned on the upright image, and `contain` pads.
    Render { format: OutputFormat, padded: bool },
}

/// Whether `header`'s image takes the planar path for `job`.
pub fn takes_planes(header: &Header, job: Job) -> bool {
    // Set only for Y'CbCr JPEGs of a subsampling libjpeg-turbo decodes to planes.
    let decodes_to_planes = header.planar_subsampling.is_some();
    // Planes carry the source's colours as they are: a profile would have to be converted.
    let colours_kept = !color::converts(header.icc.as_deref());
    let job_fits = match job {
        Job::Upload => true,
        Job::Render { format, padded } => {
            // Only these encoders take planes; padding needs transparency; stored originals
            // are upright, so a rotated one is rare enough for the RGB path.
            matches!(
                format,
                OutputFormat::Jpeg | OutputFormat::Webp | OutputFormat::Avif
            ) && !padded
                && header.orientation == Orientation::NoTransforms
        }
    };
    decodes_to_planes && colours_kept && job_fits
}
