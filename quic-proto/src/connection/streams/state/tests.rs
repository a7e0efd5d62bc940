use super::*;

type SendEvent = fn(&mut SendState) -> Result<(), IllegalTransition>;
type RecvEvent = fn(&mut RecvState) -> Result<(), IllegalTransition>;

const SEND_STATES: [SendState; 6] = [
    SendState::Ready,
    SendState::Send,
    SendState::DataSent,
    SendState::DataRecvd,
    SendState::ResetSent,
    SendState::ResetRecvd,
];

const RECV_STATES: [RecvState; 6] = [
    RecvState::Recv,
    RecvState::SizeKnown,
    RecvState::DataRecvd,
    RecvState::ResetRecvd,
    RecvState::DataRead,
    RecvState::ResetRead,
];

/// The state after `event` in `state`, per RFC 9000 §3.1 Figure 2; `None`
/// where the diagram has no such arrow.
fn send_expected(state: SendState, event: &str) -> Option<SendState> {
    use SendState::*;
    match (event, state) {
        ("stream", Ready | Send) => Some(Send),
        ("stream", DataSent) => Some(DataSent),
        ("fin", Ready | Send) => Some(DataSent),
        ("all_acked", DataSent) => Some(DataRecvd),
        ("reset_sent", Ready | Send | DataSent) => Some(ResetSent),
        ("reset_acked", ResetSent) => Some(ResetRecvd),
        _ => None,
    }
}

/// The state after `event` in `state`, per RFC 9000 §3.2 Figure 3.
fn recv_expected(state: RecvState, event: &str) -> Option<RecvState> {
    use RecvState::*;
    match (event, state) {
        ("fin", Recv) => Some(SizeKnown),
        ("all_received", SizeKnown | ResetRecvd) => Some(DataRecvd),
        ("reset", Recv | SizeKnown | DataRecvd) => Some(ResetRecvd),
        ("read_all", DataRecvd) => Some(DataRead),
        ("read_reset", ResetRecvd) => Some(ResetRead),
        _ => None,
    }
}

/// RFC 9000 §3.1: every event in every sending state either follows an
/// arrow of Figure 2 or is refused without changing the state.
#[test]
fn rfc9000_3_1_every_send_event_in_every_state() {
    let events: [(&str, SendEvent); 5] = [
        ("stream", SendState::on_send_stream),
        ("fin", SendState::on_send_fin),
        ("all_acked", SendState::on_all_acked),
        ("reset_sent", SendState::on_reset_sent),
        ("reset_acked", SendState::on_reset_acked),
    ];
    let mut legal = 0;
    for state in SEND_STATES {
        for (name, event) in events {
            let mut s = state;
            let result = event(&mut s);
            match send_expected(state, name) {
                Some(next) => {
                    assert_eq!(result, Ok(()), "{name} in {state:?}");
                    assert_eq!(s, next, "{name} in {state:?}");
                    legal += 1;
                }
                None => {
                    let err = result.expect_err(name);
                    assert_eq!(s, state, "refused {name} changed {state:?}");
                    assert_eq!(err.state, state.name());
                    assert!(err.to_string().contains(err.event));
                }
            }
        }
    }
    assert_eq!(legal, 10);
    for state in SEND_STATES {
        assert_eq!(
            state.is_terminal(),
            matches!(state, SendState::DataRecvd | SendState::ResetRecvd)
        );
    }
}

/// RFC 9000 §3.2: every event in every receiving state either follows an
/// arrow of Figure 3 (including both optional ones) or is refused.
#[test]
fn rfc9000_3_2_every_recv_event_in_every_state() {
    let events: [(&str, RecvEvent); 5] = [
        ("fin", RecvState::on_recv_fin),
        ("all_received", RecvState::on_all_received),
        ("reset", RecvState::on_reset_recvd),
        ("read_all", RecvState::on_app_read_all),
        ("read_reset", RecvState::on_app_read_reset),
    ];
    let mut legal = 0;
    for state in RECV_STATES {
        for (name, event) in events {
            let mut s = state;
            let result = event(&mut s);
            match recv_expected(state, name) {
                Some(next) => {
                    assert_eq!(result, Ok(()), "{name} in {state:?}");
                    assert_eq!(s, next, "{name} in {state:?}");
                    legal += 1;
                }
                None => {
                    assert!(result.is_err(), "{name} allowed in {state:?}");
                    assert_eq!(s, state, "refused {name} changed {state:?}");
                }
            }
        }
    }
    assert_eq!(legal, 8);
    for state in RECV_STATES {
        assert_eq!(state.final_size_known(), state != RecvState::Recv);
        assert_eq!(
            state.is_terminal(),
            matches!(state, RecvState::DataRead | RecvState::ResetRead)
        );
    }
}

/// RFC 9000 §3 note: sending STREAM with FIN from Ready passes through Send
/// to Data Sent in one event.
#[test]
fn rfc9000_3_fin_from_ready_reaches_data_sent() {
    let mut s = SendState::Ready;
    s.on_send_fin().unwrap();
    assert_eq!(s, SendState::DataSent);
    s.on_all_acked().unwrap();
    assert!(s.is_terminal());
}
