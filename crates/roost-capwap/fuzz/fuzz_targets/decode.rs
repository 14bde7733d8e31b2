#![no_main]

use libfuzzer_sys::fuzz_target;

// Control packet, control message and data packet decoders on the same bytes; whatever
// decodes must re-encode and decode back equal.
fuzz_target!(|data: &[u8]| roost_capwap::fuzz_bodies::decode_any(data));
