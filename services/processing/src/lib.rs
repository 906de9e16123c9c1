//! The PAHT processing service: each agency's inbox ordered by deadline; return, explain,
//! result and the leader's approval (articles 8, 9).
