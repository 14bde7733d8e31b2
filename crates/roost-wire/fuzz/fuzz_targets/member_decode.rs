#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| roost_wire::fuzz_bodies::member_decode(data));
