//! How long one TC3-HMAC-SHA256 signature (and one verification) takes for a typical havip
//! request: a POST DescribeHaVips with a ~200-byte JSON body.
//!
//! `cargo bench -p tc3-sign -- --warm-up-time 1 --measurement-time 3`

use std::hint::black_box;

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use tc3_sign::{
    sign, verify, Authorization, Payload, ReceivedRequest, SignableRequest, SigningParams,
};

const HOST: &str = "vpc.tencentcloudapi.com";
const CONTENT_TYPE: &str = "application/json";
const SECRET_ID: &str = "AKIDz8krbsJ5yKBZQpn74WFkmLPx3EXAMPLE";
const SECRET_KEY: &str = "Gu5t9xGARNpq86cd98joQYCN3EXAMPLE";
const TIMESTAMP: i64 = 1_700_000_000;
/// The body havip's HAVIP lookup sends, as the Python SDK would serialise it.
const BODY: &str = r#"{"HaVipIds": ["havip-iam00099"], "Filters": [{"Name": "vpc-id", "Values": ["vpc-iam00001"]}, {"Name": "subnet-id", "Values": ["subnet-iam00004"]}, {"Name": "havip-name", "Values": ["web"]}], "Offset": 0, "Limit": 20}"#;

fn params() -> SigningParams<'static> {
    SigningParams {
        secret_id: SECRET_ID,
        secret_key: SECRET_KEY,
        service: "vpc",
        timestamp: TIMESTAMP,
    }
}

fn bench(c: &mut Criterion) {
    assert!(
        (180..=220).contains(&BODY.len()),
        "body is {} bytes",
        BODY.len()
    );
    let params = params();

    let mut group = c.benchmark_group("tc3");
    group.throughput(Throughput::Elements(1));

    group.bench_function("sign POST DescribeHaVips (~200 B body)", |b| {
        b.iter(|| {
            let req = SignableRequest::post(HOST, CONTENT_TYPE, black_box(BODY.as_bytes()));
            let signed = sign(&req, black_box(&params)).unwrap();
            black_box(signed.authorization.to_string())
        })
    });

    let req = SignableRequest::post(HOST, CONTENT_TYPE, BODY.as_bytes());
    let header = sign(&req, &params).unwrap().authorization.to_string();
    let ts = TIMESTAMP.to_string();
    let received = ReceivedRequest {
        method: "POST",
        query: "",
        headers: vec![
            ("Content-Type", CONTENT_TYPE),
            ("Host", HOST),
            ("X-TC-Action", "DescribeHaVips"),
            ("X-TC-Version", "2017-03-12"),
            ("X-TC-Timestamp", &ts),
            ("X-TC-Region", "ap-guangzhou"),
            ("Authorization", &header),
        ],
        payload: Payload::Bytes(BODY.as_bytes()),
        timestamp: TIMESTAMP,
    };
    assert_eq!(
        verify(
            &Authorization::parse(&header).unwrap(),
            SECRET_KEY,
            &received,
            Some("vpc")
        ),
        Ok(())
    );

    group.bench_function("parse + verify POST DescribeHaVips (~200 B body)", |b| {
        b.iter(|| {
            let auth = Authorization::parse(black_box(&header)).unwrap();
            verify(&auth, SECRET_KEY, black_box(&received), Some("vpc")).unwrap()
        })
    });
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
