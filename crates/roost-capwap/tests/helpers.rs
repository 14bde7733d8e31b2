//! The helpers the AC and WTP sides lean on: message type pairing, Result Code numbering,
//! constants.

use roost_capwap::elements::SessionId;
use roost_capwap::types::ResultCode;
use roost_capwap::*;

#[test]
fn ports_and_qos() {
    assert_eq!((CONTROL_PORT, DATA_PORT), (5246, 5247));
    assert_eq!(TOS_CS6, 0xC0);
    assert_eq!(DSCP_CS6, 48);
    assert_eq!(DOT1P_PRIORITY, 7);
}

#[test]
fn request_response_pairs() {
    use MessageType as M;
    let pairs = [
        (M::DiscoveryRequest, M::DiscoveryResponse),
        (M::JoinRequest, M::JoinResponse),
        (
            M::ConfigurationStatusRequest,
            M::ConfigurationStatusResponse,
        ),
        (
            M::ConfigurationUpdateRequest,
            M::ConfigurationUpdateResponse,
        ),
        (M::WtpEventRequest, M::WtpEventResponse),
        (M::ChangeStateEventRequest, M::ChangeStateEventResponse),
        (M::EchoRequest, M::EchoResponse),
        (M::ImageDataRequest, M::ImageDataResponse),
        (M::ResetRequest, M::ResetResponse),
        (M::PrimaryDiscoveryRequest, M::PrimaryDiscoveryResponse),
        (M::DataTransferRequest, M::DataTransferResponse),
        (M::ClearConfigurationRequest, M::ClearConfigurationResponse),
        (
            M::StationConfigurationRequest,
            M::StationConfigurationResponse,
        ),
        (M::WlanConfigurationRequest, M::WlanConfigurationResponse),
    ];
    for (i, (req, resp)) in pairs.into_iter().enumerate() {
        assert!(req.is_request() && !resp.is_request(), "{req:?}");
        assert_eq!(req.response(), Some(resp));
        assert_eq!(resp.request(), Some(req));
        assert_eq!(req.response().and_then(M::response), None);
        assert_eq!(M::from_u32(req.to_u32()), req);
        if i < 13 {
            assert_eq!(req.to_u32(), 2 * i as u32 + 1);
            assert_eq!(req.enterprise(), 0);
        }
    }
    assert_eq!(
        M::WlanConfigurationRequest.to_u32(),
        (IEEE80211_ENTERPRISE << 8) | 1
    );
    assert_eq!(M::WlanConfigurationResponse.enterprise(), 13277);
    assert_eq!(M::from_u32(27), M::Unknown(27));
    assert_eq!(M::Unknown(27).response(), Some(M::Unknown(28)));
    assert_eq!(M::JoinRequest.name(), "Join Request");
}

#[test]
fn result_codes_follow_rfc_5415_4_6_35() {
    let expected = [
        (0, ResultCode::Success),
        (1, ResultCode::FailureAcListRequired),
        (2, ResultCode::SuccessNatDetected),
        (3, ResultCode::JoinFailureUnspecified),
        (4, ResultCode::JoinFailureResourceDepletion),
        (5, ResultCode::JoinFailureUnknownSource),
        (6, ResultCode::JoinFailureIncorrectData),
        (7, ResultCode::JoinFailureSessionIdInUse),
        (8, ResultCode::JoinFailureHardwareNotSupported),
        (9, ResultCode::JoinFailureBindingNotSupported),
        (18, ResultCode::InvalidInCurrentState),
        (19, ResultCode::UnrecognizedRequest),
        (20, ResultCode::MissingMandatoryElement),
        (21, ResultCode::UnrecognizedElement),
        (22, ResultCode::DataTransferNoInformation),
    ];
    for (n, code) in expected {
        assert_eq!(ResultCode::from_raw(n), code);
        assert_eq!(code.to_raw(), n);
    }
    for n in 0..=22 {
        assert!(!matches!(ResultCode::from_raw(n), ResultCode::Unknown(_)));
    }
    assert_eq!(ResultCode::from_raw(23), ResultCode::Unknown(23));
    assert!(ResultCode::Success.is_success() && ResultCode::SuccessNatDetected.is_success());
    assert!(!ResultCode::JoinFailureResourceDepletion.is_success());
    assert_eq!(
        ResultCode::JoinFailureResourceDepletion.to_string(),
        "4 (Join Failure (Resource Depletion))"
    );
}

#[test]
fn display_forms() {
    assert_eq!(
        MacAddress::Eui48([0, 0x11, 0x22, 0xaa, 0xbb, 0xcc]).to_string(),
        "00:11:22:aa:bb:cc"
    );
    assert_eq!(
        SessionId([0xab; 16]).to_string(),
        "abababababababababababababababab"
    );
}

#[test]
fn sequence_window() {
    let last = Sequence(254);
    assert_eq!(last.next().next(), Sequence(0));
    assert_eq!(Sequence(0).classify(Some(last)), RequestOrder::New);
    assert_eq!(
        Sequence(254).classify(Some(last)),
        RequestOrder::Retransmission
    );
    assert_eq!(Sequence(200).classify(Some(last)), RequestOrder::Stale);
}
