//! Prints the OpenAPI document: `cargo run -p roost-api --example openapi`.
use utoipa::OpenApi;

fn main() {
    println!(
        "{}",
        roost_api::ApiDoc::openapi()
            .to_pretty_json()
            .expect("serialisable")
    );
}
