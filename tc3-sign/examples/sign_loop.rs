//! A fixed signing workload to profile and time tc3-sign with (make bench's inputs: a POST
//! DescribeHaVips with a 202-byte JSON body).
//!
//! ```sh
//! cargo build --release -p tc3-sign --example sign_loop
//! target/release/examples/sign_loop 1000000           # ns per signature, sign()
//! target/release/examples/sign_loop 1000000 signer    # the same with a kept Signer
//! valgrind --tool=callgrind target/release/examples/sign_loop 10000 signer
//! callgrind_annotate callgrind.out.<pid> | head -40   # where the instructions go
//! ```

use std::hint::black_box;
use std::time::Instant;

use tc3_sign::{sign, SignableRequest, Signer, SigningParams};

const BODY: &str = r#"{"HaVipIds": ["havip-iam00099"], "Filters": [{"Name": "vpc-id", "Values": ["vpc-iam00001"]}, {"Name": "subnet-id", "Values": ["subnet-iam00004"]}, {"Name": "havip-name", "Values": ["web"]}], "Offset": 0, "Limit": 20}"#;

fn main() {
    let n: u64 = std::env::args()
        .nth(1)
        .and_then(|a| a.parse().ok())
        .unwrap_or(100_000);
    let params = SigningParams {
        secret_id: "AKIDz8krbsJ5yKBZQpn74WFkmLPx3EXAMPLE",
        secret_key: "Gu5t9xGARNpq86cd98joQYCN3EXAMPLE",
        service: "vpc",
        timestamp: 1_700_000_000,
    };
    let kept = std::env::args().nth(2).is_some_and(|a| a == "signer");
    let mut signer = Signer::new(params.secret_id, params.secret_key);
    let start = Instant::now();
    let mut last = String::new();
    for _ in 0..n {
        let req = SignableRequest::post(
            "vpc.tencentcloudapi.com",
            "application/json",
            black_box(BODY.as_bytes()),
        );
        last = if kept {
            signer
                .authorization(&req, params.service, black_box(params.timestamp))
                .expect("valid timestamp")
        } else {
            sign(&req, black_box(&params))
                .expect("valid timestamp")
                .authorization
                .to_string()
        };
    }
    let ns = start.elapsed().as_nanos() as f64 / n as f64;
    let what = if kept { "Signer" } else { "sign()" };
    let signature = last.rsplit('=').next().unwrap_or_default();
    println!("{what}: {ns:.0} ns per signature over {n} (signature {signature})");
}
