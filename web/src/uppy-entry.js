// Entry for web/vendor/uppy.min.js (built by scripts/vendor-web).
// Exposes the Uppy classes pixgate's upload page needs as one global:
//   const { Uppy, Dashboard, XHRUpload, AwsS3 } = window.Uppy
import Uppy from '@uppy/core'
import Dashboard from '@uppy/dashboard'
import XHRUpload from '@uppy/xhr-upload'
import AwsS3 from '@uppy/aws-s3'

window.Uppy = { Uppy, Dashboard, XHRUpload, AwsS3 }
