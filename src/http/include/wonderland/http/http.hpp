// The HTTP server library: include this for everything.
#pragma once

#include "wonderland/http/event_stream.hpp"
#include "wonderland/http/fields.hpp"
#include "wonderland/http/problem.hpp"
#include "wonderland/http/request.hpp"
#include "wonderland/http/responder.hpp"
#include "wonderland/http/response.hpp"
#include "wonderland/http/router.hpp"
#include "wonderland/http/server.hpp"
#include "wonderland/http/static_files.hpp"
#include "wonderland/http/url.hpp"
